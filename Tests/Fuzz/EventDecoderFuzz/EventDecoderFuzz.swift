import Events
import Foundation
import FuzzSupport

/// The event decoder under libFuzzer, and the same check replaying a corpus without it.
///
/// The properties: decoding never traps, whatever the bytes; the decoder refuses as invalid-json exactly
/// the texts (within its size limit) that the JSON parser refuses; an accepted event re-encoded with
/// `Event.json()` decodes to the same event.
///   swift build --scratch-path .build-fuzz -c release --product event-decoder-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING
///   .build-fuzz/release/event-decoder-fuzz -max_total_time=60 Tests/Fuzz/event-corpus
/// (scripts/fuzz.sh does both.)
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEventDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    check(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

private let decoder = EventDecoder()
private let now = Date(timeIntervalSince1970: 1_800_000_000)

func check(_ bytes: [UInt8]) {
    let decoded = decoder.decode(bytes, now: now)
    if bytes.count <= decoder.maxBytes {
        let parses = (try? JSONValue.parse(bytes)) != nil
        precondition(parses == (decoded != .failure(EventRejection(.invalidJSON))), "the parser \(parses ? "accepts" : "refuses") it, the decoder: \(decoded)")
    }
    guard case .success(let event) = decoded else { return }
    let again = decoder.decode(Array(event.json().utf8), now: now)
    precondition(again == .success(event), "\(event) did not survive a round trip: \(again)")
}

#if FUZZING
/// SwiftPM links an executable's `main` to this symbol; hand over to libFuzzer's driver.
@_cdecl("event_decoder_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt { runFuzzer(argc, argv, fuzzEventDecoder) }
#else
@main struct Replay {
    static func main() throws { try replay(Array(CommandLine.arguments.dropFirst()), check) }
}
#endif
