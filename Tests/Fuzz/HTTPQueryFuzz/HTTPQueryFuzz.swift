import FuzzSupport
import HummingbirdCore
import RequestParameters

/// The HTTP API's request-target parsing under libFuzzer: Hummingbird's URI parser (path, query,
/// percent-decoding) and `RequestParameters` on every path segment and on the query.
///
/// The properties: nothing traps, whatever the target; a value accepted is within its documented
/// bounds; an accepted value written back into a canonical target parses to the same value.
///   scripts/fuzz.sh runs it beside the event decoder's target.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPQuery(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    check(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

let (defaultCount, maxCount) = (10, 100)

func check(_ bytes: [UInt8]) {
    let uri = URI(String(decoding: bytes, as: UTF8.self))
    _ = (uri.scheme, uri.host, uri.port, uri.query)
    for (key, value) in uri.queryParameters { _ = (key.count, value.count) }
    for segment in uri.path.split(separator: "/", omittingEmptySubsequences: false).map(String.init) {
        if let user = try? RequestParameters.user(segment) {
            precondition(user < RequestParameters.userLimit, "user \(user) accepted from \(segment)")
            precondition((try? RequestParameters.user("\(user)")) == user, "user \(user) does not read back")
        }
        if let round = try? RequestParameters.round(segment) {
            precondition(round > 0 && (try? RequestParameters.round("\(round)")) == round, "round \(round) from \(segment)")
        }
        if let version = try? RequestParameters.version(segment) {
            precondition((try? RequestParameters.version("\(version)")) == version, "version \(version) from \(segment)")
        }
    }
    if let count = try? RequestParameters.count(uri, defaultCount: defaultCount, maxCount: maxCount) {
        precondition((1...maxCount).contains(count), "count \(count) accepted")
        let canonical = URI("/v1/users/1/recommendations?count=\(count)")
        precondition((try? RequestParameters.count(canonical, defaultCount: defaultCount, maxCount: maxCount)) == count, "count \(count) does not read back")
    }
    _ = RequestParameters.wait(uri)
}

#if FUZZING
/// SwiftPM links an executable's `main` to this symbol; hand over to libFuzzer's driver.
@_cdecl("http_query_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt { runFuzzer(argc, argv, fuzzHTTPQuery) }
#else
@main struct Replay {
    static func main() throws { try replay(Array(CommandLine.arguments.dropFirst()), check) }
}
#endif
