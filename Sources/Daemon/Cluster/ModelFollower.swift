import Engine
import Foundation
import Ingest
import Kafka
import Learning
import Logging
import Metrics
import SemanticIDs
import Serving
import ServiceLifecycle
import Store
import Synchronization

/// A node's side of the models topic while it does not lead: stores every version the leading train
/// node sends and serves what its promotions say, as soon as the versions they name are here. While the
/// reader is still catching up on the topic's history only the newest promotion is kept, and applied once
/// it has caught up, so a new node loads one model, not every one the topic ever held. A standby train
/// node (`trainerDirectory` set) also keeps the leader's newest trainer checkpoint there, to resume from
/// when it takes the lease; from then on (`stopFollowing`) it publishes instead and ignores the topic.
///
/// Metrics: `onerec_cluster_model_publish_to_serving_seconds` (from the train node noticing a change to
/// this node serving it; the two clocks are assumed in step), `onerec_cluster_versions_received_total`,
/// `onerec_cluster_versions_refused_total`.
final class ModelFollower: Service, Sendable {
    private let registry: ModelRegistry
    private let trainerDirectory: String?
    private let logger: Logger
    private let pending = Mutex<Promotion?>(nil)
    private let applied = Mutex<(promotion: Promotion, servingAt: Date)?>(nil)
    private let leader = Mutex<LeaderRecord?>(nil)
    private let checkpointStep = Mutex<Int?>(nil)
    private let following = Atomic<Bool>(true)
    private let reader = Mutex<ModelTopicReader?>(nil)
    /// Held while a promotion is applied: the reader and the catch-up check may both try one.
    private let adopting = Mutex(())

    /// For the status page: how far this node follows.
    struct Status: Encodable, Sendable {
        let topic: String
        let recordsRead: Int
        let caughtUp: Bool
        /// A promotion waiting for its version (or for the catch-up to end).
        let waitingPromotion: [UInt32]?
        /// The last promotion applied, when the train node made it and when this node served it.
        let applied: [UInt32]?
        /// Seconds since 1970.
        let promotedAt: Double?
        let servingAt: Double?
        /// The leading train node as its last leader record says, its epoch and its HTTP API.
        let leader: String?
        let epoch: Int64?
        let leaderURL: String?
        /// A standby train node: the step of the leader's checkpoint it keeps.
        let checkpointStep: Int?
    }

    let topic: String

    init(registry: ModelRegistry, kafka: KafkaConfig, topic: String, node: String, trainerDirectory: String? = nil, logger: Logger) throws {
        (self.registry, self.logger, self.topic, self.trainerDirectory) = (registry, logger, topic, trainerDirectory)
        let reader = try ModelTopicReader(kafka: kafka, topic: topic, clientGroup: "\(node).models", checkpoints: trainerDirectory != nil,
                                          logger: logger) { [weak self] update in
            self?.apply(update)
        }
        self.reader.withLock { $0 = reader }
    }

    var progress: ModelTopicReader.Progress { reader.withLock { $0! }.progress }

    var status: Status {
        let progress = self.progress
        let last = applied.withLock { $0 }
        let leader = self.leader.withLock { $0 }
        return Status(topic: topic, recordsRead: progress.records, caughtUp: progress.caughtUp, waitingPromotion: pending.withLock { $0?.stack },
                      applied: last?.promotion.stack, promotedAt: last?.promotion.at, servingAt: last?.servingAt.timeIntervalSince1970,
                      leader: leader?.node, epoch: leader?.epoch, leaderURL: leader?.url, checkpointStep: checkpointStep.withLock { $0 })
    }

    /// From now on updates are ignored: this node leads and writes the topic itself.
    func stopFollowing() { following.store(false, ordering: .relaxed) }

    func run() async throws {
        let reader = self.reader.withLock { $0! }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await reader.run() }
            // The catch-up's end comes with no record to hand over: look for it.
            group.addTask {
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                    if reader.progress.caughtUp, let promotion = self.pending.withLock({ $0 }) {
                        await offThread { self.adopt(promotion) }
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    func apply(_ update: ModelTopicUpdate) {
        guard following.load(ordering: .relaxed) else { return }
        switch update {
        case .package(let package, _):
            do {
                let codebook = try Codebook(encoded: package.codebook)
                if try registry.receive(info: package.info, file: package.model, codebook: codebook) {
                    Counter(label: "onerec_cluster_versions_received_total").increment()
                }
            } catch {
                Counter(label: "onerec_cluster_versions_refused_total").increment()
                logger.error("model version from the models topic refused", metadata: ["version": "\(package.info.version)", "reason": "\(error)"])
            }
            if let promotion = pending.withLock({ $0 }) { adopt(promotion) }
        case .promoted(let promotion):
            pending.withLock { $0 = promotion }
            adopt(promotion)
        case .leader(let record):
            leader.withLock { $0 = record }
            logger.info("train node leads", metadata: ["node": "\(record.node)", "epoch": "\(record.epoch)"])
        case .checkpoint(let generator, let reward, let manifest):
            keep(generator: generator, reward: reward, manifest: manifest)
        case .forgotten, .refused, .fenced:
            break  // the local store deletes its own old files; refusals are logged by the reader
        }
    }

    /// Writes the leader's checkpoint into the trainer directory, each file checked before it replaces
    /// the one there.
    private func keep(generator: [UInt8], reward: [UInt8], manifest: CheckpointManifest) {
        guard let trainerDirectory else { return }
        let files = Checkpointer.files(in: trainerDirectory)
        do {
            try FileManager.default.createDirectory(atPath: trainerDirectory, withIntermediateDirectories: true)
            for (bytes, path) in [(generator, files.generator), (reward, files.reward)] {
                let temporary = "\(path).received"
                guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else { throw LearnerError("cannot write \(temporary)") }
                _ = try Safetensors.load(temporary)  // its own checksum
                guard rename(temporary, path) == 0 else { throw LearnerError("cannot rename \(temporary): errno \(errno)") }
            }
            checkpointStep.withLock { $0 = manifest.step }
            logger.info("leader's trainer checkpoint kept", metadata: ["step": "\(manifest.step)", "node": "\(manifest.node)"])
        } catch {
            logger.error("leader's trainer checkpoint refused", metadata: ["step": "\(manifest.step)", "reason": "\(error)"])
        }
    }

    /// Serves `promotion` if its version is here and the reader has caught up; otherwise it waits.
    private func adopt(_ promotion: Promotion) {
        guard following.load(ordering: .relaxed), reader.withLock({ $0?.progress.caughtUp }) == true else { return }
        adopting.withLock { _ in adoptHolding(promotion) }
    }

    private func adoptHolding(_ promotion: Promotion) {
        do {
            let changed = try registry.adopt(stack: promotion.stack)
            let now = Date()
            pending.withLock { if $0 == promotion { $0 = nil } }
            guard changed else { return }
            applied.withLock { $0 = (promotion, now) }
            Timer(label: "onerec_cluster_model_publish_to_serving_seconds", preferredDisplayUnit: .seconds)
                .recordSeconds(max(0, now.timeIntervalSince1970 - promotion.at))
        } catch {
            logger.debug("promotion waits for its version", metadata: ["stack": "\(promotion.stack)", "reason": "\(error)"])
        }
    }
}
