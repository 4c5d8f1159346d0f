import Foundation
import Ingest
import Learning
import Logging
import ServiceLifecycle
import Synchronization

/// Why a leading train node stops: the lease went to another node while this one led.
struct LeaseLost: Error, CustomStringConvertible {
    let epoch: Int64
    var description: String {
        "the trainer lease of epoch \(epoch) went to another train node; this node stops rather than publish beside it (restarted, it follows as a standby)"
    }
}

/// A train node's life. As a standby it follows the models topic (versions, promotions and the leader's
/// checkpoint; `ModelFollower`) while ingesting every event. When the lease (`TrainerLease`) is its, it
/// announces its epoch on the models topic, reads the topic past that announcement (so it has everything
/// the previous leader wrote, and its version numbers go on from there), stops following and runs the
/// learner (resuming from the kept checkpoint) and the broadcast of its model store until shutdown. A
/// leader that loses the lease ends the process with `LeaseLost` instead of publishing beside the new one.
final class TrainerLeadership: Service, Sendable {
    private let lease: TrainerLease
    private let follower: ModelFollower
    private let learner: LearnerService
    private let makeBroadcast: @Sendable (Int64) throws -> (ModelTopicWriter, ModelBroadcast)
    private let url: String
    private let logger: Logger
    private let leading = Mutex<(epoch: Int64, broadcast: ModelBroadcast, since: Date)?>(nil)

    /// `url`: where this node's HTTP API answers, announced with its leadership.
    init(lease: TrainerLease, follower: ModelFollower, learner: LearnerService, url: String,
         makeBroadcast: @escaping @Sendable (Int64) throws -> (ModelTopicWriter, ModelBroadcast), logger: Logger) {
        (self.lease, self.follower, self.learner, self.url, self.makeBroadcast, self.logger) = (lease, follower, learner, url, makeBroadcast, logger)
    }

    /// While this node leads: its epoch, its broadcast and since when.
    var current: (epoch: Int64, broadcast: ModelBroadcast, since: Date)? { leading.withLock { $0 } }

    func run() async throws {
        let epoch: Int64
        do {
            epoch = try await cancelWhenGracefulShutdown { try await self.lease.leadership() }
        } catch is CancellationError {
            return  // shut down as a standby
        }
        let (writer, broadcast) = try makeBroadcast(epoch)
        let marker = try await offThread { Result { [url = self.url] in try writer.sendLeader(url: url) } }.get()
        while follower.progress.offset < marker {
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        follower.stopFollowing()
        leading.withLock { $0 = (epoch, broadcast, Date()) }
        logger.notice("leading: training and publishing", metadata: ["epoch": "\(epoch)", "caughtUpTo": "\(marker)"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.learner.run() }
            group.addTask { try await broadcast.run() }
            group.addTask {
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    if case .lost(let epoch) = self.lease.state { throw LeaseLost(epoch: epoch) }
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            try await group.next()
            group.cancelAll()
            try await group.waitForAll()
        }
    }
}
