import Foundation
import ServiceLifecycle
import Store
import Synchronization

/// Samples the history store's interaction count every `interval`, keeping the last `capacity` samples,
/// so the status page can plot the ingest rate.
public final class IngestRate: Service, Sendable {
    let history: HistoryStore
    let interval: Duration
    let capacity: Int
    private let samples = Mutex<[(time: Double, interactions: Int)]>([])

    public init(history: HistoryStore, interval: Duration = .seconds(5), capacity: Int = 360) {
        (self.history, self.interval, self.capacity) = (history, interval, capacity)
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            sample()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
        }
    }

    func sample() {
        guard let count = try? history.counts().interactions else { return }
        samples.withLock { s in
            s.append((Date().timeIntervalSince1970, count))
            if s.count > capacity { s.removeFirst(s.count - capacity) }
        }
    }

    /// (seconds before now, events per second) between consecutive samples.
    var rates: [(x: Double, y: Double)] {
        let s = samples.withLock { $0 }
        let now = Date().timeIntervalSince1970
        return zip(s, s.dropFirst()).map { a, b in (b.time - now, Double(b.interactions - a.interactions) / max(b.time - a.time, 1e-3)) }
    }
}
