import Events
import Logging
import ServiceLifecycle
import Serving
import Store

/// Popular items on a node that runs no trainer (a serve node; the trainer counts them otherwise): it
/// tails the history store's log every second and counts the positive interactions, as the trainer does.
struct PopularityService: Service {
    let history: HistoryStore
    let popular: PopularItems
    let logger: Logger

    func run() async throws {
        var watermark: UInt64 = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                while true {
                    let entries = try history.log(after: watermark, limit: 10_000)
                    guard let last = entries.last else { break }
                    popular.observe(entries.compactMap { entry in
                        if case let .interaction(e) = entry.event, e.isPositive { return e.itemID }
                        return nil
                    })
                    watermark = last.sequence
                    if entries.count < 10_000 { break }
                    await Task.yield()
                }
            } catch {
                logger.warning("popular items not updated", metadata: ["reason": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
        }
    }
}
