import CRdKafka

/// Which partition a producer puts a keyed message in, computed by librdkafka's own partitioner
/// functions, so that a consumer can tell which partition holds a key without reading it.
///
/// librdkafka's producers (and so onerec's, kcat's, confluent-kafka-python's) hash keys with CRC32 by
/// default (`partitioner=consistent_random`); the Java client and those that follow it (Kafka Streams,
/// Spring, franz-go's `StickyKeyPartitioner`) with murmur2, which librdkafka offers as
/// `partitioner=murmur2_random`.
public enum KeyPartitioner: String, Sendable, CaseIterable, Codable {
    case crc32
    case murmur2

    /// The partition of `key` among `partitions` (at least 1). `key` must not be empty: both
    /// partitioners place an empty key at random.
    public func partition(of key: [UInt8], partitions: Int32) -> Int32 {
        precondition(partitions >= 1 && !key.isEmpty, "a non-empty key among at least one partition")
        // Neither function reads the topic handle or the opaques (they hash the key, modulo the count).
        return key.withUnsafeBytes { bytes in
            switch self {
            case .crc32: rd_kafka_msg_partitioner_consistent(nil, bytes.baseAddress, bytes.count, partitions, nil, nil)
            case .murmur2: rd_kafka_msg_partitioner_murmur2(nil, bytes.baseAddress, bytes.count, partitions, nil, nil)
            }
        }
    }
}
