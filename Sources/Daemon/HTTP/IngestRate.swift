import Foundation
import Ingest
import Metrics
import ServiceLifecycle
import Store
import Synchronization

/// Samples the history store's interaction count (and the Kafka consumer's lag, when there is a
/// consumer) every `interval`, keeping the last `capacity` samples, so the status page can plot the
/// ingest rate and the lag; the lag is also the `onerec_ingest_consumer_lag` gauge.
public final class IngestRate: Service, Sendable {
    let history: HistoryStore
    let lag: (@Sendable () -> Int64?)?
    /// Event → stored over the newest events, when there is a consumer.
    let freshness: (@Sendable () -> IngestService.Freshness?)?
    let interval: Duration
    let capacity: Int
    private let samples = Mutex<[(time: Double, interactions: Int, lag: Int64?)]>([])
    private let lagGauge = Gauge(label: "onerec_ingest_consumer_lag")

    public init(history: HistoryStore, lag: (@Sendable () -> Int64?)? = nil, freshness: (@Sendable () -> IngestService.Freshness?)? = nil,
                interval: Duration = .seconds(5), capacity: Int = 360) {
        (self.history, self.lag, self.freshness, self.interval, self.capacity) = (history, lag, freshness, interval, capacity)
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            sample()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
        }
    }

    func sample() {
        guard let count = try? history.counts().interactions else { return }
        let behind = lag?()
        if let behind { lagGauge.record(behind) }
        samples.withLock { s in
            s.append((Date().timeIntervalSince1970, count, behind))
            if s.count > capacity { s.removeFirst(s.count - capacity) }
        }
    }

    /// (seconds before now, events per second) between consecutive samples.
    var rates: [(x: Double, y: Double)] {
        let s = samples.withLock { $0 }
        let now = Date().timeIntervalSince1970
        return zip(s, s.dropFirst()).map { a, b in (b.time - now, Double(b.interactions - a.interactions) / max(b.time - a.time, 1e-3)) }
    }

    /// (seconds before now, messages behind) where the lag was known.
    var lags: [(x: Double, y: Double)] {
        let now = Date().timeIntervalSince1970
        return samples.withLock { $0 }.compactMap { s in s.lag.map { (s.time - now, Double($0)) } }
    }
}
