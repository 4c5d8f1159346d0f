import Foundation
import Kafka
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Follows the models topic from its first record on every start (a serve node's whole model state can be
/// rebuilt from it), puts packages back together (`ModelTopicAssembler`) and hands each update to
/// `apply`, in topic order. Refused records and a deposed leader's are logged and counted
/// (`onerec_cluster_model_records_refused_total`, `onerec_cluster_fenced_records_total`); nothing stops
/// the reading.
public final class ModelTopicReader: Service, Sendable {
    public typealias Apply = @Sendable (ModelTopicUpdate) -> Void

    private let consumer: KafkaConsumer
    private let apply: Apply
    private let logger: Logger
    private let counts = Mutex((records: 0, waiting: 0, offset: Int64(-1), refused: 0, fenced: 0))
    private let assembler: Mutex<ModelTopicAssembler>  // used by one batch at a time

    /// How far the reader has come.
    public struct Progress: Sendable, Equatable {
        /// Records read since the start.
        public var records: Int
        /// Versions with chunks or a manifest still waiting for the rest.
        public var waiting: Int
        /// The offset of the last record read (-1 before the first).
        public var offset: Int64
        /// Records refused (damaged, foreign) and fenced (a deposed leader's) so far.
        public var refused: Int
        public var fenced: Int
        /// Whether the whole topic, as far as the broker has it, has been read.
        public var caughtUp: Bool
    }

    /// `clientGroup`: the consumer's `group.id` (the topic's one partition is read by manual assignment;
    /// no group is joined); `checkpoints`: whether trainer checkpoints are put together (a standby train node).
    public init(kafka: KafkaConfig, topic: String, clientGroup: String, checkpoints: Bool = false, logger: Logger,
                apply: @escaping Apply) throws {
        assembler = Mutex(ModelTopicAssembler(checkpoints: checkpoints))
        // A broker that answers a fetch with the whole partition (as the test broker does) is read even when
        // the partition holds more than librdkafka's default 100 MB response limit.
        consumer = try KafkaConsumer.onePartition(topic, kafka: kafka, clientGroup: clientGroup, properties: ["receive.message.max.bytes": "1000000000"],
                                                  configure: { $0.maxBatchMessages = 64 },  // chunks are half a megabyte each
                                                  logger: logger)
        self.apply = apply
        self.logger = logger
    }

    public var progress: Progress {
        let c = counts.withLock { $0 }
        let assigned = consumer.assignment
        return Progress(records: c.records, waiting: c.waiting, offset: c.offset, refused: c.refused, fenced: c.fenced,
                        caughtUp: !assigned.isEmpty && consumer.pausedAtEnd.isSuperset(of: assigned))
    }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.consumer.run() }
            for try await batch in consumer.batches {
                // Applying writes files and loads models: on a thread of its own, not on the few Swift
                // concurrency threads HTTP shares nor behind other work on the global dispatch threads.
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    let thread = Thread {
                        self.take(batch)
                        done.resume()
                    }
                    thread.name = "onerec-models-reader"
                    thread.start()
                }
            }
            try await group.waitForAll()
        }
    }

    private func take(_ batch: ConsumerBatch) {
        var (refused, fenced) = (0, 0)
        for message in batch.messages {
            let update = assembler.withLock { $0.take(key: message.key, value: message.value) }
            switch update {
            case .refused(let reason):
                refused += 1
                Counter(label: "onerec_cluster_model_records_refused_total").increment()
                logger.warning("models topic record refused", metadata: ["offset": "\(message.offset)", "reason": "\(reason)"])
            case .fenced(let reason):
                fenced += 1
                Counter(label: "onerec_cluster_fenced_records_total").increment()
                logger.warning("models topic record of a deposed leader ignored", metadata: ["offset": "\(message.offset)", "reason": "\(reason)"])
            default:
                break
            }
            if let update { apply(update) }
        }
        let waiting = assembler.withLock { $0.waiting }
        let last = batch.messages.map(\.offset).max() ?? -1
        counts.withLock { $0 = ($0.records + batch.messages.count, waiting, max($0.offset, last), $0.refused + refused, $0.fenced + fenced) }
    }
}
