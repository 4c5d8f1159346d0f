import CRdKafka

/// An owned `rd_kafka_topic_partition_list_t` built from Swift values; `destroy()` frees it.
struct PartitionList {
    let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    init(_ offsets: [TopicPartition: Int64]) {
        pointer = rd_kafka_topic_partition_list_new(Int32(offsets.count))
        for (tp, offset) in offsets.sorted(by: { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }) {
            rd_kafka_topic_partition_list_add(pointer, tp.topic, tp.partition).pointee.offset = offset
        }
    }

    func destroy() { rd_kafka_topic_partition_list_destroy(pointer) }

    static func elements(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> UnsafeMutableBufferPointer<rd_kafka_topic_partition_t> {
        UnsafeMutableBufferPointer(start: list.pointee.elems, count: Int(list.pointee.cnt))
    }

    static func partitions(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> [TopicPartition] {
        elements(list).map { TopicPartition(topic: String(cString: $0.topic), partition: $0.partition) }
    }

    func offsets() -> [TopicPartition: Int64] {
        Self.elements(pointer).reduce(into: [:]) {
            $0[TopicPartition(topic: String(cString: $1.topic), partition: $1.partition)] = $1.offset
        }
    }

    func errors() -> [(TopicPartition, rd_kafka_resp_err_t)] {
        Self.elements(pointer).compactMap { e in
            e.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : (TopicPartition(topic: String(cString: e.topic), partition: e.partition), e.err)
        }
    }
}
