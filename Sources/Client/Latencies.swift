import Synchronization

/// Latencies (ms) gathered from several threads.
public final class Latencies: Sendable {
    private let stored = Mutex<[Double]>([])
    public init() {}
    public func add(_ ms: Double) { stored.withLock { $0.append(ms) } }
    public var count: Int { stored.withLock { $0.count } }
    /// The q-quantile (0...1) of the latencies so far, nearest rank.
    public func percentile(_ q: Double) -> Double {
        let sorted = stored.withLock { $0 }.sorted()
        return sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
    }
}
