import CRdKafka
import Logging
import Synchronization

/// The consumer's callback state: the assignment and the application's start offsets.
final class ConsumerContext: ClientContext, @unchecked Sendable {
    // @unchecked: `onAssign` is Sendable and `assigned` is behind a Mutex.
    private let onAssign: KafkaConsumer.AssignHandler
    private let assigned = Mutex<Set<TopicPartition>>([])
    /// How many times the assignment changed (assign, revoke or a failed rebalance).
    let assignmentChanges = Atomic<Int>(0)

    init(logger: Logger, brokers: [String], onAssign: @escaping KafkaConsumer.AssignHandler) {
        self.onAssign = onAssign
        super.init(logger: logger, brokers: brokers)
    }

    var assignment: Set<TopicPartition> { assigned.withLock { $0 } }

    /// The application's start offsets for `partitions` (manual assignment).
    func startOffsets(_ partitions: [TopicPartition]) throws -> [TopicPartition: Int64] { try onAssign(partitions) }

    /// Manual assignment: `partitions` are read from now on.
    func assigned(_ partitions: Set<TopicPartition>) {
        assigned.withLock { $0.formUnion(partitions) }
        assignmentChanges.add(1, ordering: .relaxed)
        logger.info("kafka partitions assigned", metadata: ["partitions": "\(partitions.map(\.description).sorted())"])
    }

    /// Manual assignment: `partitions` are no longer read.
    func unassigned(_ partitions: Set<TopicPartition>) {
        assigned.withLock { $0.subtract(partitions) }
        assignmentChanges.add(1, ordering: .relaxed)
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
            assigned.withLock { $0.formUnion(partitions) }
            logger.info("kafka partitions assigned", metadata: ["partitions": "\(partitions.map(\.description).sorted())"])
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let result = cooperative ? KafkaError.from(rd_kafka_incremental_unassign(rk, list), "unassign \(partitions)")
                : KafkaError.from(rd_kafka_assign(rk, nil), "unassign \(partitions)")
            if let result { clientError(result) }
            assigned.withLock { $0.subtract(partitions) }
            logger.info("kafka partitions revoked", metadata: ["partitions": "\(partitions.map(\.description).sorted())"])
        default:
            clientError(KafkaError(err, "rebalance"))
            _ = rd_kafka_assign(rk, nil)
            assigned.withLock { $0.removeAll() }
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
