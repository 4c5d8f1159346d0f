import Foundation
import Logging
import ServiceLifecycle
import Store

/// Deletes interactions older than `store.retentionDays` every hour (and at start), in transactions of
/// 10,000 so ingest is never blocked for long. The catalog stays.
struct RetentionService: Service {
    let history: HistoryStore
    let days: Double
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let cutoff = Int64((Date().timeIntervalSince1970 - days * 86_400) * 1000)
            var deleted = 0
            do {
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    let n = try await history.writing { [history] in try history.compact(olderThan: cutoff) }
                    deleted += n
                    if n < 10_000 { break }
                    await Task.yield()
                }
                if deleted > 0 { logger.info("retention: old interactions deleted", metadata: ["deleted": "\(deleted)", "days": "\(days)"]) }
            } catch {
                logger.error("retention pass failed", metadata: ["reason": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}
