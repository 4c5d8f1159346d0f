import Foundation
import Ingest
import Learning
import Logging
import Metrics
import SemanticIDs
import Serving
import Store
import ServiceLifecycle
import Synchronization

/// The leading train node's side of the models topic: after every change of the model store it sends the
/// versions the topic lacks, then the promoted stack if it changed, then tombstones for versions whose
/// files the store deleted. At start it sends every version on disk and the stack again (a serve node
/// skips what it has). A failed send is logged and the whole sync tried again every 2 s. Every
/// `checkpointEvery` it also sends the trainer's newest checkpoint, if it is newer than the last sent,
/// for a standby train node to resume from.
final class ModelBroadcast: Service, Sendable {
    private let registry: ModelRegistry
    private let writer: ModelTopicWriter
    private let logger: Logger
    private let state = Mutex(State())
    /// The trainer's directory and status (which step it last checkpointed), and how often to look.
    private let checkpoints: (directory: String, status: LearnerStatus, every: Duration)?

    struct State: Sendable {
        /// Versions sent, with their chunk counts (for their tombstones).
        var sent: [UInt32: Int] = [:]
        var stack: [UInt32] = []
        var lastSync: Date?
        /// Why the last sync failed, while it keeps failing.
        var failure: String?
        var checkpointStep: Int?
    }

    /// For the status page: what the topic has been sent.
    struct Status: Encodable, Sendable {
        let topic: String
        let versionsOnTopic: [UInt32]
        let promoted: [UInt32]
        /// Seconds since 1970.
        let lastSync: Double?
        let failure: String?
        let epoch: Int64
        /// The step of the last checkpoint sent.
        let checkpointStep: Int?
    }

    init(registry: ModelRegistry, writer: ModelTopicWriter, checkpoints: (directory: String, status: LearnerStatus, every: Duration)?, logger: Logger) {
        (self.registry, self.writer, self.checkpoints, self.logger) = (registry, writer, checkpoints, logger)
    }

    var status: Status {
        state.withLock {
            Status(topic: writer.topic, versionsOnTopic: $0.sent.keys.sorted(), promoted: $0.stack, lastSync: $0.lastSync?.timeIntervalSince1970,
                   failure: $0.failure, epoch: writer.epoch, checkpointStep: $0.checkpointStep)
        }
    }

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var changes = self.registry.changes.cancelOnGracefulShutdown().makeAsyncIterator()
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    if await offThread({ self.syncLogged() }) {
                        guard await changes.next() != nil else { break }
                    } else {
                        try? await Task.sleep(for: .seconds(2))
                    }
                }
            }
            if let checkpoints {
                group.addTask {
                    while !Task.isShuttingDownGracefully && !Task.isCancelled {
                        try? await Task.sleep(for: checkpoints.every)
                        await offThread { self.sendCheckpoint(checkpoints.directory, step: checkpoints.status.snapshot.lastCheckpointStep) }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Sends the checkpoint in `directory` if `step` is newer than the one sent last.
    private func sendCheckpoint(_ directory: String, step: Int?) {
        guard let step, step != state.withLock({ $0.checkpointStep }) else { return }
        let files = Checkpointer.files(in: directory)
        do {
            guard let generator = FileManager.default.contents(atPath: files.generator), let reward = FileManager.default.contents(atPath: files.reward) else {
                return  // not written yet
            }
            try writer.sendCheckpoint(generator: Array(generator), reward: Array(reward), step: step)
            state.withLock { $0.checkpointStep = step }
            logger.info("trainer checkpoint sent to the models topic", metadata: ["step": "\(step)", "bytes": "\(generator.count + reward.count)"])
        } catch {
            Counter(label: "onerec_cluster_model_send_failures_total").increment()
            logger.error("cannot send the trainer checkpoint; trying again later", metadata: ["error": "\(error)"])
        }
    }

    /// One sync; false (logged, kept for the status page) if it failed.
    private func syncLogged() -> Bool {
        do {
            try sync()
            state.withLock { ($0.failure, $0.lastSync) = (nil, Date()) }
            return true
        } catch {
            let first = state.withLock { s in
                defer { s.failure = "\(error)" }
                return s.failure == nil
            }
            Counter(label: "onerec_cluster_model_send_failures_total").increment()
            if first { logger.error("cannot publish to the models topic; retrying every 2 s", metadata: ["topic": "\(writer.topic)", "error": "\(error)"]) }
            return false
        }
    }

    func sync() throws {
        let noticed = Date()
        var (sent, stack) = state.withLock { ($0.sent, $0.stack) }
        defer { state.withLock { ($0.sent, $0.stack) = (sent, stack) } }
        let onDisk = try registry.versionsOnDisk()
        for version in onDisk where sent[version] == nil {
            let exported: (info: ModelInfo, file: [UInt8], codebook: Codebook)
            do {
                exported = try registry.exported(version: version)
            } catch {
                if try registry.versionsOnDisk().contains(version) { throw error }
                continue  // deleted meanwhile (a newer publication pruned it)
            }
            let manifest = try writer.send(ModelPackage(info: exported.info, model: exported.file, codebook: exported.codebook.encoded()), now: noticed)
            sent[version] = manifest.chunks
            Counter(label: "onerec_cluster_versions_sent_total").increment()
            logger.info("model version sent to the models topic", metadata: [
                "version": "\(version)", "bytes": "\(manifest.modelBytes + manifest.codebookBytes)", "chunks": "\(manifest.chunks)"])
        }
        let promoted = try registry.promotedStack()
        if promoted != stack, !promoted.isEmpty {
            try writer.send(promoted: promoted, now: noticed)
            stack = promoted
            logger.info("promotion sent to the models topic", metadata: ["serving": "\(promoted.last!)", "stack": "\(promoted)"])
        }
        for (version, chunks) in sent where !onDisk.contains(version) && !promoted.contains(version) {
            try writer.forget(version: version, chunks: chunks)
            sent[version] = nil
        }
    }
}

/// Runs `body` on a thread of its own: file reads, model loads and waits for the broker stay off the Swift
/// concurrency threads that HTTP shares, and do not queue behind other work on the few global dispatch
/// threads (as many as cores) either.
func offThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { done in
        let thread = Thread { done.resume(returning: body()) }
        thread.name = "onerec-cluster"
        thread.start()
    }
}
