import Synchronization

/// Ids for answers: a random 64-bit prefix drawn when the process starts, then a counter, e.g.
/// `9f1c2e4b7a3d5c60-1f`, so ids differ across restarts and daemons without coordination, and stay short
/// (the event schema allows 256 bytes).
final class RequestIDs: Sendable {
    private let prefix: String
    private let counter = Atomic<UInt64>(0)

    init() {
        let random = UInt64.random(in: .min ... .max)
        let hex = String(random, radix: 16)
        prefix = String(repeating: "0", count: 16 - hex.count) + hex
    }

    func next() -> String {
        let n = counter.add(1, ordering: .relaxed).newValue
        return prefix + "-" + String(n, radix: 16)
    }
}
