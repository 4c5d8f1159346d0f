import CRdKafka
import Logging
import Synchronization

/// The consumer's callback state: the assignment, where each assigned partition first reported its end,
/// and the application's start offsets.
final class ConsumerContext: ClientContext, @unchecked Sendable {
    // @unchecked: `onAssign` is Sendable and `assigned` is behind a Mutex.
    private let onAssign: KafkaConsumer.AssignHandler
    private struct Assigned {
        var partitions: Set<TopicPartition> = []
        /// The offset at which each assigned partition first reported its end since it was assigned.
        var ends: [TopicPartition: Int64] = [:]
    }
    private let assigned = Mutex(Assigned())
    /// How many times the assignment changed (assign, revoke or a failed rebalance).
    let assignmentChanges = Atomic<Int>(0)

    init(logger: Logger, brokers: [String], onAssign: @escaping KafkaConsumer.AssignHandler) {
        self.onAssign = onAssign
        super.init(logger: logger, brokers: brokers)
    }

    var assignment: Set<TopicPartition> { assigned.withLock { $0.partitions } }
    var endsReached: [TopicPartition: Int64] { assigned.withLock { $0.ends } }

    /// `partition` reported its end at `offset`: kept if it is assigned and this is its first end since.
    func reachedEnd(_ partition: TopicPartition, at offset: Int64) {
        assigned.withLock { a in
            if a.partitions.contains(partition) && a.ends[partition] == nil { a.ends[partition] = offset }
        }
    }

    /// The application's start offsets for `partitions` (manual assignment).
    func startOffsets(_ partitions: [TopicPartition]) throws -> [TopicPartition: Int64] { try onAssign(partitions) }

    /// `partitions` are read from now on (a rebalance, or manual assignment).
    func assigned(_ partitions: some Collection<TopicPartition>) {
        assigned.withLock { $0.partitions.formUnion(partitions) }
        logger.info("kafka partitions assigned", metadata: ["partitions": "\(partitions.map(\.description).sorted())"])
    }

    /// `partitions` are no longer read; their ends are forgotten.
    func unassigned(_ partitions: some Collection<TopicPartition>) {
        assigned.withLock { a in
            a.partitions.subtract(partitions)
            for p in partitions { a.ends[p] = nil }
        }
        logger.info("kafka partitions unassigned", metadata: ["partitions": "\(partitions.map(\.description).sorted())"])
    }

    /// Runs on the poll thread, inside `rd_kafka_consumer_poll`.
    func rebalance(_ rk: OpaquePointer, _ err: rd_kafka_resp_err_t, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE"
        let partitions = PartitionList.partitions(list)
        defer { assignmentChanges.add(1, ordering: .relaxed) }
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            do {
                let starts = try onAssign(partitions)
                for i in PartitionList.elements(list).indices {
                    let e = PartitionList.elements(list)[i]
                    if let start = starts[TopicPartition(topic: String(cString: e.topic), partition: e.partition)] {
                        PartitionList.elements(list)[i].offset = start
                    }
                }
            } catch {
                logger.error("kafka assignment: start offsets unavailable, using committed offsets", metadata: ["error": "\(error)"])
            }
            let result = cooperative ? KafkaError.from(rd_kafka_incremental_assign(rk, list), "assign \(partitions)")
                : KafkaError.from(rd_kafka_assign(rk, list), "assign \(partitions)")
            if let result { clientError(result) }
            assigned(partitions)
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let result = cooperative ? KafkaError.from(rd_kafka_incremental_unassign(rk, list), "unassign \(partitions)")
                : KafkaError.from(rd_kafka_assign(rk, nil), "unassign \(partitions)")
            if let result { clientError(result) }
            unassigned(partitions)
        default:
            clientError(KafkaError(err, "rebalance"))
            _ = rd_kafka_assign(rk, nil)
            assigned.withLock { $0 = Assigned() }
        }
    }
}

extension KafkaError {
    static func from(_ err: rd_kafka_resp_err_t, _ operation: String) -> KafkaError? {
        err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(err, operation)
    }

    static func from(_ error: OpaquePointer?, _ operation: String) -> KafkaError? {
        error.map { KafkaError(consuming: $0, operation) }
    }
}
