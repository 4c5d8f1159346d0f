import Alignment
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Store

/// Writes the recorded answers (`ServedRequests`) to the store four times a second, and once more when the
/// daemon stops, on the store's writer thread; forgets answers older than `windowHours` every hour (and
/// at start). A store that cannot be written keeps the answers waiting (logged once until it recovers).
/// Every 5 s it exports the outcomes of the newest ten versions (and of popular items, `version="popular"`)
/// as gauges: `onerec_version_sessions`, `onerec_version_watch_seconds_per_session`,
/// `onerec_version_positive_rate`, `onerec_version_like_rate`, `onerec_version_follow_rate`.
struct AnswerRecordsService: Service {
    let history: HistoryStore
    let served: ServedRequests
    let windowHours: Double
    let logger: Logger
    var interval = Duration.milliseconds(250)

    func run() async throws {
        var failing = false
        var lastPrune = ContinuousClock.now - .seconds(3600)
        let forgotten = Counter(label: "onerec_answers_forgotten_total")
        let dropped = Counter(label: "onerec_answers_dropped_total")
        var droppedBefore = 0
        var ticks = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            failing = await flush(failing: failing)
            if ticks % 20 == 0 { exportOutcomes() }
            ticks += 1
            let droppedNow = served.dropped
            if droppedNow > droppedBefore { dropped.increment(by: droppedNow - droppedBefore) }
            droppedBefore = droppedNow
            if lastPrune.duration(to: .now) >= .seconds(3600) {
                lastPrune = .now
                let cutoff = Int64((Date().timeIntervalSince1970 - windowHours * 3600) * 1000)
                do {
                    var n = 0, total = 0
                    repeat {
                        n = try await history.writing { [served] in try served.forget(servedBefore: cutoff) }
                        total += n
                    } while n == 10_000 && !Task.isShuttingDownGracefully
                    forgotten.increment(by: total)
                    if total > 0 { logger.info("answers older than the window forgotten", metadata: ["answers": "\(total)", "hours": "\(windowHours)"]) }
                } catch {
                    logger.error("forgetting old answers failed; retried in an hour", metadata: ["reason": "\(error)"])
                }
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
        _ = await flush(failing: failing)
    }

    /// The newest versions' outcomes as gauges (a read of the store; nothing on failure).
    private func exportOutcomes() {
        guard let outcomes = try? served.outcomes(newest: 10) else { return }
        for o in outcomes {
            let version = [("version", o.version.map(String.init) ?? "popular")]
            Gauge(label: "onerec_version_sessions", dimensions: version).record(Double(o.sessions))
            Gauge(label: "onerec_version_watch_seconds_per_session", dimensions: version).record(o.watchPerSession)
            Gauge(label: "onerec_version_positive_rate", dimensions: version).record(o.positiveRate)
            Gauge(label: "onerec_version_like_rate", dimensions: version).record(o.likeRate)
            Gauge(label: "onerec_version_follow_rate", dimensions: version).record(o.followRate)
        }
    }

    /// Writes what is waiting; returns whether writing fails.
    private func flush(failing: Bool) async -> Bool {
        guard served.unwritten > 0 else { return failing }
        do {
            try await history.writing { [served] in try served.flush() }
            if failing { logger.notice("answers are stored again") }
            return false
        } catch {
            if !failing {
                logger.error("cannot store answers; they wait in memory until the store can be written",
                             metadata: ["reason": "\(error)", "waiting": "\(served.unwritten)"])
            }
            return true
        }
    }
}
