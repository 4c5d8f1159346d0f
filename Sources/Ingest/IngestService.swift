import Events
import Foundation
import Kafka
import Logging
import Metrics
import ServiceLifecycle
import Store
import Synchronization

/// Kafka -> LMDB with exactly-once effect. Each polled batch is validated; invalid messages go to the
/// dead-letter topic with their reason (and are counted by reason), never stopping the partition; the
/// valid events and the offsets the batch covers are written in one LMDB transaction; only then are the
/// offsets stored for Kafka. On assignment the consumer starts from the offsets in LMDB, so a crash at
/// any moment neither loses an event nor stores one twice (duplicate event ids are skipped as well).
public final class IngestService: Service, Sendable {
    public struct Config: Sendable {
        public var kafka: KafkaConfig
        public var groupID = "onerec"
        public var interactionsTopic = "onerec.interactions"
        public var itemsTopic = "onerec.items"
        public var deadLetterTopic = "onerec.dead-letter"
        /// Static group membership id (see KafkaConsumer.Config).
        public var instanceID: String?
        /// Required dimension of item embeddings, if the deployment fixes one.
        public var embeddingDimension: Int?
        /// Most messages written in one LMDB transaction. A commit writes back every page the batch touched
        /// in the (randomly keyed) event-id and history indexes and syncs them, so larger batches share that
        /// cost, at the price of holding more messages in memory (the README's ingest section has the figures).
        public var maxBatchMessages = 200_000
        /// How often a partition read to its end asks whether more arrived (KafkaConsumer.Config).
        public var idleCheckInterval: Duration? = .milliseconds(100)
        /// How often a batch the store refused (disk full, map at its limit, an I/O error) is tried again.
        public var storeRetryInterval: Duration = .seconds(5)
        /// A serve node of a cluster: no consumer group; reads the interactions partitions `own(_:)` names
        /// (a partition the store has no offset for from the start of retention) and every partition of
        /// the items topic. Default false: the group's members share the partitions.
        public var ownedPartitions = false
        public init(kafka: KafkaConfig) { self.kafka = kafka }
    }

    /// Running totals, for status pages and tests.
    public struct Totals: Sendable, Equatable {
        public var stored = 0, duplicates = 0, invalid = 0, batches = 0
        /// Messages the Kafka client delivered a second time, dropped before they reached the store.
        public var repeatsDropped = 0
        public var invalidByReason: [String: Int] = [:]
    }

    /// Most bytes of a refused message kept in its dead letter.
    static let deadLetterPayloadBytes = 64 << 10

    private let config: Config
    private let store: HistoryStore
    private let logger: Logger
    private let consumer: KafkaConsumer
    private let deadLetters: KafkaProducer
    private let totalsState = Mutex(Totals())
    private let storeFailure = Mutex<(since: Date, reason: String)?>(nil)
    /// The newest event → stored delays sampled (seconds), at most `freshnessSamples`, oldest first.
    private let recentFreshness = Mutex<[Double]>([])
    static let freshnessSamples = 10_000

    public init(config: Config, store: HistoryStore, logger: Logger) throws {
        self.config = config
        self.store = store
        self.logger = logger
        var consumerConfig = KafkaConsumer.Config(kafka: config.kafka, groupID: config.groupID,
                                                  topics: config.interactionsTopic == config.itemsTopic ? [config.interactionsTopic] : [config.interactionsTopic, config.itemsTopic])
        if let id = config.instanceID { consumerConfig.groupInstanceID = id }
        consumerConfig.maxBatchMessages = config.maxBatchMessages
        consumerConfig.idleCheckInterval = config.idleCheckInterval
        consumerConfig.manualAssignment = config.ownedPartitions
        consumer = try KafkaConsumer(config: consumerConfig, logger: logger) { partitions in
            var starts: [TopicPartition: Int64] = [:]
            for (topic, group) in Dictionary(grouping: partitions, by: \.topic) {
                for (p, offset) in try store.offsets(topic: topic, partitions: group.map(\.partition)) {
                    starts[TopicPartition(topic: topic, partition: p)] = offset
                }
            }
            return starts
        }
        deadLetters = try KafkaProducer(config: config.kafka, logger: logger)
    }

    public var totals: Totals { totalsState.withLock { $0 } }

    public func run() async throws {
        let decoder = EventDecoder(embeddingDimension: config.embeddingDimension)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.consumer.run() }
            // Two stages: while one batch is written (and synced) to LMDB, the next is validated; writes
            // stay in batch order, one at a time, and none follows a batch given up on.
            var writing: Task<Bool, any Error>?
            for try await batch in consumer.batches {
                // Tens of milliseconds per batch, so not on the few Swift concurrency threads HTTP shares.
                let validated = await withCheckedContinuation { done in
                    DispatchQueue.global().async { done.resume(returning: Self.validate(batch, decoder: decoder)) }
                }
                guard try await writing?.value ?? true else { break }
                writing = Task { try await self.persistHolding(validated) }
            }
            _ = try await writing?.value
            try await group.waitForAll()
        }
        logger.info("ingest stopped", metadata: [
            "stored": "\(totals.stored)", "invalid": "\(totals.invalid)", "repeats_dropped": "\(totals.repeatsDropped)"])
    }

    /// A batch after validation: the valid events with their messages' indexes (an item event is stored
    /// as its message's bytes), the refused messages with reasons.
    struct Validated: Sendable {
        let batch: ConsumerBatch
        let valid: [(event: Event, message: Int)]
        let rejected: [(ConsumerMessage, EventRejection)]
    }

    /// Validates a batch's messages on every core (they are independent), keeping message order.
    static func validate(_ batch: ConsumerBatch, decoder: EventDecoder) -> Validated {
        let messages = batch.messages
        let workers = messages.count >= 256 ? ProcessInfo.processInfo.activeProcessorCount : 1
        let chunk = (messages.count + workers - 1) / workers
        let parts = Mutex([[Result<Event, EventRejection>]](repeating: [], count: workers))
        let now = Date()  // one clock reading per batch, not per event
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let decoded = messages[min(messages.count, w * chunk)..<min(messages.count, (w + 1) * chunk)].map { decoder.decode($0, now: now) }
            parts.withLock { $0[w] = decoded }
        }
        var valid: [(event: Event, message: Int)] = []
        var rejected: [(ConsumerMessage, EventRejection)] = []
        valid.reserveCapacity(messages.count)
        for (i, result) in parts.withLock({ $0 }).joined().enumerated() {
            switch result {
            case .success(let event): valid.append((event, i))
            case .failure(let reason): rejected.append((messages[i], reason))
            }
        }
        return Validated(batch: batch, valid: valid, rejected: rejected)
    }

    /// Why the store refused the batch in hand and since when, while it does (disk full, the map at its
    /// limit, an I/O error); nil while writes succeed. Meanwhile ingest holds that batch and tries it again
    /// every `storeRetryInterval`, polling nothing new, so Kafka keeps whatever is not stored; serving
    /// goes on.
    public var storeUnwritable: (since: Date, reason: String)? { storeFailure.withLock { $0 } }

    /// `persist`, tried again while it fails (dead letters are not sent again once sent). A batch applies
    /// idempotently (event ids already stored are skipped, offsets only move forward), so a retry after a
    /// failure at any point stores nothing twice. Returns false when the consumer stops first: the batch is
    /// given up on, unstored and uncommitted, and read again at the next start.
    private func persistHolding(_ v: Validated) async throws -> Bool {
        var deadLettersSent = false
        while true {
            do {
                if !deadLettersSent && !v.rejected.isEmpty {
                    try await store.writing { try self.sendDeadLetters(v) }  // flush blocks: off the concurrency threads
                }
                deadLettersSent = true
                try await store.writing { try self.persist(v) }
                if let failure = storeFailure.withLock({ f in defer { f = nil }; return f }) {
                    logger.notice("ingest stores again", metadata: ["held": "\(Int(-failure.since.timeIntervalSinceNow)) s"])
                }
                return true
            } catch {
                let first = storeFailure.withLock { f in
                    defer { f = (f?.since ?? Date(), "\(error)") }
                    return f == nil
                }
                if first {
                    logger.error("ingest cannot store a batch; holding it and trying again", metadata: [
                        "reason": "\(error)", "retry": "\(config.storeRetryInterval)", "messages": "\(v.batch.messages.count)"])
                }
                Counter(label: "onerec_ingest_store_failures_total").increment()
                if consumer.isStopping {
                    logger.warning("ingest stops with a batch not stored; it is read again at the next start", metadata: ["reason": "\(error)"])
                    return false
                }
                try await Task.sleep(for: config.storeRetryInterval)
            }
        }
    }

    /// The batch's refused messages to the dead-letter topic, durably: they must be kept elsewhere before
    /// offsets move past them.
    private func sendDeadLetters(_ v: Validated) throws {
        for (message, reason) in v.rejected {
            try deadLetters.send(topic: config.deadLetterTopic, key: message.key, value: Array(deadLetter(message, reason).utf8))
        }
        try deadLetters.flush()
    }

    /// The events and offsets in one LMDB transaction, then the offsets for Kafka.
    private func persist(_ v: Validated) throws {
        var next: [String: [Int32: Int64]] = [:]
        for (tp, offset) in v.batch.nextOffsets { next[tp.topic, default: [:]][tp.partition] = offset }
        let applied = try v.batch.withValues { values in try store.apply(v.valid.map { ($0.event, values[$0.message]) }, offsets: next) }
        recordFreshness(v, committedAt: Date())
        try consumer.storeOffsets(v.batch)
        let dropped = consumer.repeatsDropped
        let newlyDropped = totalsState.withLock { t in
            defer { t.repeatsDropped = dropped }
            t.stored += applied.stored
            t.duplicates += applied.duplicates
            t.invalid += v.rejected.count
            t.batches += 1
            for (_, reason) in v.rejected { t.invalidByReason[reason.reason.rawValue, default: 0] += 1 }
            return dropped - t.repeatsDropped
        }
        Counter(label: "onerec_ingest_events_total", dimensions: [("result", "stored")]).increment(by: applied.stored)
        Counter(label: "onerec_ingest_events_total", dimensions: [("result", "duplicate")]).increment(by: applied.duplicates)
        Counter(label: "onerec_ingest_events_total", dimensions: [("result", "repeat_dropped")]).increment(by: newlyDropped)
        applied.joined.count()
        for (_, reason) in v.rejected {
            Counter(label: "onerec_ingest_events_total", dimensions: [("result", "invalid"), ("reason", reason.reason.rawValue)]).increment()
        }
    }

    /// `onerec_ingest_event_to_stored_seconds`: from each message's Kafka timestamp (the producer's, unless
    /// the topic stamps append times) to the commit that stored it, for up to 1,000 of the batch's valid
    /// events spread evenly over it (a histogram of every event would cost more than storing it).
    private func recordFreshness(_ v: Validated, committedAt now: Date) {
        let nowMs = Int64(now.timeIntervalSince1970 * 1000)
        let timer = Timer(label: "onerec_ingest_event_to_stored_seconds", preferredDisplayUnit: .seconds)
        var sampled: [Double] = []
        for i in stride(from: 0, to: v.valid.count, by: max(1, v.valid.count / 1000)) {
            guard let sent = v.batch.messages[v.valid[i].message].timestamp else { continue }
            timer.recordMilliseconds(max(0, nowMs - sent))
            sampled.append(Double(max(0, nowMs - sent)) / 1000)
        }
        recentFreshness.withLock { recent in
            recent += sampled
            if recent.count > Self.freshnessSamples { recent.removeFirst(recent.count - Self.freshnessSamples) }
        }
    }

    /// Event → stored over the newest sampled events (see `recordFreshness`), for the status page.
    public struct Freshness: Sendable, Encodable {
        public let p50: Double, p99: Double
        public let events: Int
    }

    /// nil before the first event with a timestamp is stored.
    public var freshness: Freshness? {
        let sorted = recentFreshness.withLock { $0 }.sorted()
        guard !sorted.isEmpty else { return nil }
        return Freshness(p50: sorted[sorted.count / 2], p99: sorted[min(sorted.count - 1, sorted.count * 99 / 100)], events: sorted.count)
    }

    /// The dead-letter record: where the message came from, why it was refused, its size and its bytes
    /// (as text when they are UTF-8, else base64), cut to the first `deadLetterPayloadBytes` so any
    /// message fits the producer's limit.
    private func deadLetter(_ m: ConsumerMessage, _ reason: EventRejection) -> String {
        let kept = Array(m.value.prefix(Self.deadLetterPayloadBytes))
        let text = String(validating: kept, as: UTF8.self)
        var object: [String: Any] = [
            "reason": reason.description, "topic": m.topic, "partition": Int(m.partition), "offset": Int(m.offset),
            "payload_bytes": m.value.count,
            text == nil ? "payload_base64" : "payload": text ?? Data(kept).base64EncodedString(),
        ]
        if kept.count < m.value.count { object["payload_truncated"] = true }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Messages the consumer has not read yet, over its assigned partitions (nil before the first fetch).
    public func lag() -> Int64? {
        guard let perPartition = try? consumer.lag(), !perPartition.isEmpty else { return nil }
        return perPartition.values.reduce(0, +)
    }

    /// A serve node of a cluster (`Config.ownedPartitions`): reads `interactions` of the interactions
    /// topic from now on, and the items topic's `itemPartitions` partitions.
    public func own(_ interactions: Set<Int32>, itemPartitions: Int32) {
        var partitions = Set(interactions.map { TopicPartition(topic: config.interactionsTopic, partition: $0) })
        if config.itemsTopic != config.interactionsTopic {
            partitions.formUnion((0..<itemPartitions).map { TopicPartition(topic: config.itemsTopic, partition: $0) })
        }
        consumer.assign(partitions)
    }

    /// For the interactions partitions being read: the next offset the store holds for each (absent:
    /// none), and those stored up to where they once reported their end since they were assigned (this
    /// node knows their users' histories). One read of the store.
    public func progress() throws -> (stored: [Int32: Int64], caughtUp: Set<Int32>) {
        let reading = consumer.assignment.filter { $0.topic == config.interactionsTopic }.map(\.partition)
        let stored = try store.offsets(topic: config.interactionsTopic, partitions: reading.sorted())
        let ends = consumer.endsReached.filter { $0.key.topic == config.interactionsTopic }
        return (stored, Set(ends.filter { (stored[$0.key.partition] ?? 0) >= $0.value }.keys.map(\.partition)))
    }

    /// Partition counts of the interactions and items topics (0 for a topic not created yet).
    public func partitionCounts() throws -> (interactions: Int32, items: Int32) {
        let topics = try consumer.metadata().topics
        return (Int32(topics[config.interactionsTopic] ?? 0), Int32(topics[config.itemsTopic] ?? 0))
    }

    /// Since when no Kafka broker has been reachable; nil while one is.
    public var brokersUnreachableSince: Date? { consumer.unreachableSince }

    /// Leaves the group cleanly (the batch being processed completes first).
    public func stop() { consumer.stop() }
}
