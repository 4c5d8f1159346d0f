import Alignment
import Foundation
import Learning
import Logging
import Metrics
import Serving
import ServiceLifecycle
import Store

/// Looks at the running canary every `lookSeconds`: reads its arms' outcomes from the store, lets the
/// test decide (`Canary.decide`), and records the look; a promoted candidate serves everyone and the
/// trainer goes on from it, a rolled-back one stops serving. Decisions are counted as
/// `onerec_canary_decisions_total{state}`; `onerec_canary_running` is 1 while one runs.
struct CanaryService: Service {
    let registry: ModelRegistry
    let served: ServedRequests
    let learner: LearnerService?
    let lookSeconds: Double
    let logger: Logger

    func run() async throws {
        let running = Gauge(label: "onerec_canary_running")
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            running.record(registry.canary == nil ? 0 : 1)
            do {
                try look()
            } catch {
                logger.error("canary look failed; tried again at the next", metadata: ["reason": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(lookSeconds)) }
        }
    }

    /// One look at the running canary, if there is one.
    func look(now: Double = Date().timeIntervalSince1970) throws {
        guard var canary = registry.canary?.canary else { return }
        let arms = try served.arms(canary: canary.id, candidate: canary.candidate)
        let state = canary.decide(control: arms.control, candidate: arms.candidate, now: now)
        try registry.record(look: canary)
        guard state != .running else { return }
        Counter(label: "onerec_canary_decisions_total", dimensions: [("state", state.rawValue)]).increment()
        if state == .promoted, let promoted = registry.snapshot { learner?.adopt(promoted) }
    }
}
