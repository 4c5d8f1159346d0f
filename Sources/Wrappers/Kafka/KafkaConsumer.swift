import CRdKafka
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// A consumer that polls on its own thread and yields message batches: a consumer-group member, or (with
/// `manualAssignment`) a reader of the partitions the application names with `assign(_:)`.
///
/// Offsets are never stored automatically: call `storeOffsets(_:)` once a batch is durably processed,
/// so a crash re-delivers what was not. Where the application keeps its own offsets (for example in the
/// same LMDB transaction as the data), `onAssign` returns them and the consumer starts there.
public final class KafkaConsumer: Service, Sendable {
    public struct Config: Sendable {
        public var kafka: KafkaConfig
        /// `group.id`.
        public var groupID: String
        public var topics: [String]
        /// `group.instance.id` for static membership: a restarted member takes its partitions back at once
        /// instead of waiting out the session. Default: "<hostname>-<groupID>". nil turns it off.
        public var groupInstanceID: String?
        /// Most messages in one batch. Default 1000.
        public var maxBatchMessages: Int = 1000
        /// How long the first poll of a batch waits for a message. Default 100 ms.
        public var pollTimeout: Duration = .milliseconds(100)
        /// Batches waiting for the reader before the poll thread blocks. Default 2.
        public var bufferedBatches: Int = 2
        /// Where a partition with no committed offset starts: "earliest" or "latest". Default "earliest".
        public var autoOffsetReset: String = "earliest"
        /// How often a partition read to its end asks the broker whether more has arrived; meanwhile it
        /// is paused (see `IdlePartitions`: a broker that does not hold empty fetches, like the test
        /// broker, otherwise keeps a caught-up consumer busy). Default 100 ms; nil leaves the waiting to
        /// the broker (`fetch.wait.max.ms`).
        public var idleCheckInterval: Duration? = .milliseconds(100)
        /// No group membership: nothing is read until `assign(_:)` names partitions, which start at the
        /// offsets `onAssign` returns or else at the start of retention; nothing is committed to the group
        /// (the application keeps its offsets). Default false.
        public var manualAssignment = false

        public init(kafka: KafkaConfig, groupID: String, topics: [String]) {
            self.kafka = kafka
            self.groupID = groupID
            self.topics = topics
            let host = ProcessInfo.processInfo.hostName
            groupInstanceID = "\(host)-\(groupID)"
        }
    }

    /// Called on the poll thread when partitions are assigned; returns offsets to start from for any of
    /// them (others resume from the group's committed offsets).
    public typealias AssignHandler = @Sendable ([TopicPartition]) throws -> [TopicPartition: Int64]

    private let client: KafkaClient
    private let config: Config
    private let channel: BatchChannel
    private let context: ConsumerContext
    private let idle: IdlePartitions?
    private let stopRequested = Atomic<Bool>(false)
    private let droppedRepeats = Atomic<Int>(0)
    /// Manual assignment: the partitions wanted, and how often that was changed.
    private let wanted = Mutex((partitions: Set<TopicPartition>(), changes: 0))

    public init(config: Config, logger: Logger, onAssign: @escaping AssignHandler = { _ in [:] }) throws {
        precondition(!config.topics.isEmpty, "a consumer needs at least one topic")
        precondition(Set(config.topics).count == config.topics.count, "topic listed twice: \(config.topics)")
        precondition(config.maxBatchMessages >= 1, "maxBatchMessages must be at least 1")
        var defaults = [
            "group.id": config.groupID,
            "enable.auto.offset.store": "false",
            "enable.auto.commit": config.manualAssignment ? "false" : "true",
            "auto.offset.reset": config.autoOffsetReset,
            "enable.partition.eof": config.idleCheckInterval == nil ? "false" : "true",
        ]
        if let instance = config.groupInstanceID, !config.manualAssignment { defaults["group.instance.id"] = instance }
        let context = ConsumerContext(logger: logger, brokers: config.kafka.brokers, onAssign: onAssign)
        client = try KafkaClient(type: RD_KAFKA_CONSUMER, config: config.kafka, defaults: defaults, context: context) { conf in
            rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, opaque in
                guard let rk, let partitions, let opaque else { return }
                Unmanaged<ConsumerContext>.fromOpaque(opaque).takeUnretainedValue().rebalance(rk, err, partitions)
            }
        }
        try check(rd_kafka_poll_set_consumer(client.handle), "redirect the main queue to the consumer")
        self.config = config
        self.context = context
        let client = client
        idle = config.idleCheckInterval.map { IdlePartitions(client: client, interval: $0, report: context.clientError) }
        channel = BatchChannel(capacity: config.bufferedBatches)
    }

    /// The batches, in poll order. One reader at a time; ends when the service stops.
    public var batches: Batches { Batches(channel: channel) }

    /// Partitions currently assigned to this member.
    public var assignment: Set<TopicPartition> { context.assignment }

    /// Manual assignment: reads exactly `partitions` from now on (the poll thread applies it within a
    /// poll). Partitions added start at `onAssign`'s offsets, or at the start of retention.
    public func assign(_ partitions: Set<TopicPartition>) {
        precondition(config.manualAssignment, "assign(_:) needs Config.manualAssignment")
        wanted.withLock { w in
            if w.partitions != partitions { w = (partitions, w.changes + 1) }
        }
    }

    /// The offset at which each assigned partition first reported its end since it was assigned (needs
    /// `idleCheckInterval`): a partition listed here has been read up to that offset at least.
    public var endsReached: [TopicPartition: Int64] { context.endsReached }

    /// Assigned partitions read to their end and paused until the broker has more (see `idleCheckInterval`).
    public var pausedAtEnd: Set<TopicPartition> { idle?.paused ?? [] }

    /// Brokers and topics; throws if no broker answers within `timeout`.
    public func metadata(timeout: Duration = .seconds(10)) throws -> ClusterMetadata {
        try client.metadata(timeout: timeout)
    }

    /// Subscribes and polls on a dedicated thread until graceful shutdown or cancellation; then leaves
    /// the group cleanly (revoking partitions) and ends `batches`.
    public func run() async throws {
        let result = await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (done: CheckedContinuation<Result<Void, KafkaError>, Never>) in
                    let thread = Thread { [self] in
                        let result = pollLoop()
                        channel.finish(result)
                        done.resume(returning: result)
                    }
                    thread.name = "kafka-poll"
                    thread.start()
                }
            } onCancel: {
                stop()
            }
        } onGracefulShutdown: {
            self.stop()
        }
        try result.get()
    }

    /// Asks the poll thread to leave the group and finish.
    public func stop() {
        stopRequested.store(true, ordering: .relaxed)
    }

    /// Whether `stop` was called (directly or by graceful shutdown).
    public var isStopping: Bool { stopRequested.load(ordering: .relaxed) }

    /// Records that `batch` is processed: the group resumes after it (committed within
    /// `auto.commit.interval.ms`, or at once by `commit()`). Partitions no longer assigned are skipped;
    /// their new owner re-reads from the last committed offset.
    public func storeOffsets(_ batch: ConsumerBatch) throws {
        try storeOffsets(batch.nextOffsets)
    }

    /// Records resume offsets for partitions (the next offset to read, per partition).
    public func storeOffsets(_ offsets: [TopicPartition: Int64]) throws {
        guard !offsets.isEmpty else { return }
        let list = PartitionList(offsets)
        defer { list.destroy() }
        let err = rd_kafka_offsets_store(client.handle, list.pointer)
        if err == RD_KAFKA_RESP_ERR_NO_ERROR { return }
        // Per-partition errors: "not assigned" (__STATE) means the partition moved away during a rebalance.
        for (partition, code) in list.errors() where code != RD_KAFKA_RESP_ERR__STATE {
            throw KafkaError(code, "store offset for \(partition)")
        }
    }

    /// Messages between the consumer's position and the end of each assigned partition, from the high
    /// watermarks the broker last reported with fetched data (no round trip). Partitions not fetched from
    /// yet are left out.
    public func lag() throws -> [TopicPartition: Int64] {
        var assigned: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        try check(rd_kafka_assignment(client.handle, &assigned), "read the assignment")
        guard let assigned else { return [:] }
        defer { rd_kafka_topic_partition_list_destroy(assigned) }
        try check(rd_kafka_position(client.handle, assigned), "read the positions")
        var lag: [TopicPartition: Int64] = [:]
        for e in PartitionList.elements(assigned) {
            var low: Int64 = 0, high: Int64 = 0
            guard rd_kafka_get_watermark_offsets(client.handle, e.topic, e.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR,
                  high >= 0 else { continue }
            lag[TopicPartition(topic: String(cString: e.topic), partition: e.partition)] = max(0, high - (e.offset >= 0 ? e.offset : low))
        }
        return lag
    }

    /// Messages librdkafka delivered a second time under one assignment, dropped (see `DeliveredOffsets`).
    public var repeatsDropped: Int { droppedRepeats.load(ordering: .relaxed) }

    /// Since when no broker has been reachable (librdkafka reported all brokers down and none has
    /// answered since); nil while the cluster is reachable.
    public var unreachableSince: Date? { context.unreachable.withLock { $0 } }

    /// Commits the stored offsets now and waits for the broker's answer.
    public func commit() throws {
        let err = rd_kafka_commit(client.handle, nil, 0)
        if err == RD_KAFKA_RESP_ERR__NO_OFFSET { return }
        try check(err, "commit offsets of group \(config.groupID)")
    }

    /// The offsets the group has committed for `partitions` (nil where none).
    public func committed(_ partitions: [TopicPartition], timeout: Duration = .seconds(10)) throws -> [TopicPartition: Int64?] {
        let list = PartitionList(Dictionary(uniqueKeysWithValues: partitions.map { ($0, Int64(RD_KAFKA_OFFSET_INVALID)) }))
        defer { list.destroy() }
        try check(rd_kafka_committed(client.handle, list.pointer, timeout.milliseconds), "read committed offsets")
        return list.offsets().mapValues { $0 >= 0 ? $0 : nil }
    }

    // MARK: Poll thread

    private func pollLoop() -> Result<Void, KafkaError> {
        var subscribed = RD_KAFKA_RESP_ERR_NO_ERROR
        if !config.manualAssignment {
            let topics = PartitionList(Dictionary(uniqueKeysWithValues: config.topics.map {
                (TopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA), Int64(RD_KAFKA_OFFSET_INVALID))
            }))
            subscribed = rd_kafka_subscribe(client.handle, topics.pointer)
            topics.destroy()
        }
        var result: Result<Void, KafkaError> = .success(())
        if subscribed != RD_KAFKA_RESP_ERR_NO_ERROR {
            result = .failure(KafkaError(subscribed, "subscribe to \(config.topics)"))
        } else {
            context.logger.info(config.manualAssignment ? "kafka consumer started (manual assignment)" : "kafka consumer subscribed",
                                metadata: ["topics": "\(config.topics)", "group": "\(config.groupID)"])
            var lastProbe = Date.distantPast
            var delivered = DeliveredOffsets()
            var applied = 0  // the manual assignment's change count last applied
            while !stopRequested.load(ordering: .relaxed) {
                if config.manualAssignment { applied = applyAssignment(since: applied) }
                // While the brokers are down, ask one for metadata now and then: an answer means they are back.
                if context.unreachable.withLock({ $0 }) != nil && Date().timeIntervalSince(lastProbe) > 2 {
                    lastProbe = Date()
                    if (try? client.metadata(timeout: .milliseconds(500))) != nil { context.unreachable.withLock { $0 = nil } }
                }
                idle?.follow(assignmentChanges: context.assignmentChanges.load(ordering: .relaxed))
                idle?.resumeGrown()
                do {
                    let batch = try pollBatch(&delivered)
                    if !batch.messages.isEmpty { context.unreachable.withLock { $0 = nil } }
                    if batch.messages.isEmpty { continue }
                    if !channel.send(batch, stopped: { stopRequested.load(ordering: .relaxed) }) { break }
                } catch {
                    result = .failure(error)
                    break
                }
            }
        }
        let closed = rd_kafka_consumer_close(client.handle)
        if closed != RD_KAFKA_RESP_ERR_NO_ERROR {
            context.logger.warning("kafka consumer close", metadata: ["error": "\(KafkaError(closed, "close consumer"))"])
        }
        context.logger.info("kafka consumer stopped", metadata: ["group": "\(config.groupID)"])
        return result
    }

    /// Up to `maxBatchMessages`: the first poll waits `pollTimeout`, the rest take only what is ready.
    /// A partition's end-of-partition event pauses it (see `idleCheckInterval`); a message delivered
    /// already under this assignment is dropped (see `DeliveredOffsets`). The messages stay in
    /// librdkafka's buffers until the batch's last message is released (`PolledMessages`).
    private func pollBatch(_ delivered: inout DeliveredOffsets) throws(KafkaError) -> ConsumerBatch {
        var raw: [UnsafeMutablePointer<rd_kafka_message_t>] = []
        var topics: [String] = []  // each message's topic name
        var topic: (handle: OpaquePointer?, name: String) = (nil, "")  // one String per topic, not per message
        var timeout = config.pollTimeout.milliseconds
        while raw.count < config.maxBatchMessages, let message = rd_kafka_consumer_poll(client.handle, timeout) {
            timeout = 0
            let m = message.pointee
            if m.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                if topic.handle != m.rkt { topic = (m.rkt, String(cString: rd_kafka_topic_name(m.rkt))) }
                let partition = TopicPartition(topic: topic.name, partition: m.partition)
                // A rebalance inside this poll comes before the message: its offsets start afresh.
                delivered.follow(assignmentChanges: context.assignmentChanges.load(ordering: .relaxed))
                switch delivered.admit(partition, offset: m.offset) {
                case .new:
                    raw.append(message)
                    topics.append(topic.name)
                case .repeated(let owed, let first):
                    rd_kafka_message_destroy(message)
                    droppedRepeats.add(1, ordering: .relaxed)
                    if first { sendBack(partition, to: owed, from: m.offset) }
                }
                continue
            }
            defer { rd_kafka_message_destroy(message) }
            if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF, let idle {
                // A rebalance inside this poll resumes the old pauses first, so this end stays paused.
                idle.follow(assignmentChanges: context.assignmentChanges.load(ordering: .relaxed))
                let partition = TopicPartition(topic: String(cString: rd_kafka_topic_name(m.rkt)), partition: m.partition)
                idle.reachedEnd(partition, at: m.offset)
                context.reachedEnd(partition, at: m.offset)
                continue
            }
            let error = KafkaError(m.err, "consume")
            if m.err == RD_KAFKA_RESP_ERR__FATAL {
                raw.forEach { rd_kafka_message_destroy($0) }
                throw error
            }
            context.clientError(error)
        }
        let polled = PolledMessages(client: client, raw: raw)
        let messages = raw.indices.map { i in
            let m = raw[i]
            var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
            let timestamp = rd_kafka_message_timestamp(m, &type)
            return ConsumerMessage(topic: topics[i], partition: m.pointee.partition, offset: m.pointee.offset,
                                   timestamp: type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp, polled: polled, index: i)
        }
        return ConsumerBatch(messages: messages)
    }

    /// Manual assignment: brings librdkafka's assignment to the partitions wanted, if they changed since
    /// `applied`; returns the change count applied.
    private func applyAssignment(since applied: Int) -> Int {
        let (partitions, changes) = wanted.withLock { $0 }
        guard changes != applied else { return applied }
        let current = context.assignment
        let removed = current.subtracting(partitions), added = partitions.subtracting(current)
        if !removed.isEmpty {
            let list = PartitionList(Dictionary(uniqueKeysWithValues: removed.map { ($0, Int64(RD_KAFKA_OFFSET_INVALID)) }))
            defer { list.destroy() }
            if let error = KafkaError.from(rd_kafka_incremental_unassign(client.handle, list.pointer), "unassign \(removed.map(\.description).sorted())") {
                context.clientError(error)
                return applied  // tried again on the next turn
            }
            context.unassigned(removed)
            context.assignmentChanges.add(1, ordering: .relaxed)
        }
        if !added.isEmpty {
            var starts: [TopicPartition: Int64]
            do {
                starts = try context.startOffsets(Array(added))
            } catch {
                context.logger.error("kafka assignment: start offsets unavailable; tried again", metadata: ["error": "\(error)"])
                return applied
            }
            for p in added where starts[p] == nil { starts[p] = Int64(RD_KAFKA_OFFSET_BEGINNING) }
            let list = PartitionList(starts)
            defer { list.destroy() }
            if let error = KafkaError.from(rd_kafka_incremental_assign(client.handle, list.pointer), "assign \(added.map(\.description).sorted())") {
                context.clientError(error)
                return applied
            }
            context.assigned(added)
            context.assignmentChanges.add(1, ordering: .relaxed)
        }
        return changes
    }

    /// librdkafka went back to `offset` of `partition`, delivered already: says so and seeks the partition
    /// to `owed`, so the repeats stop at once instead of being fetched and dropped up to there.
    private func sendBack(_ partition: TopicPartition, to owed: Int64, from offset: Int64) {
        context.logger.warning("kafka fetch went back to messages delivered already; dropping them and seeking forward", metadata: [
            "partition": "\(partition)", "offset": "\(offset)", "owed": "\(owed)"])
        let list = PartitionList([partition: owed])
        defer { list.destroy() }
        if let error = KafkaError.from(rd_kafka_seek_partitions(client.handle, list.pointer, 0), "seek \(partition) to \(owed)") {
            context.clientError(error)
        }
    }

    /// The batches of a consumer, as an async sequence.
    public struct Batches: AsyncSequence, Sendable {
        public typealias Element = ConsumerBatch
        let channel: BatchChannel

        public struct AsyncIterator: AsyncIteratorProtocol {
            let channel: BatchChannel
            public mutating func next() async throws -> ConsumerBatch? { try await channel.next() }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(channel: channel) }
    }
}
