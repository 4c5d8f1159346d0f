/// A topic and one of its partitions.
public struct TopicPartition: Hashable, Sendable, CustomStringConvertible {
    public let topic: String
    public let partition: Int32
    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }
    public var description: String { "\(topic)[\(partition)]" }
}

/// One consumed message, copied out of librdkafka's buffers.
public struct ConsumerMessage: Sendable {
    public let topic: String
    public let partition: Int32
    public let offset: Int64
    public let key: [UInt8]?
    public let value: [UInt8]
    /// Milliseconds since the epoch, if the message carries a timestamp.
    public let timestamp: Int64?

    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
}

/// Messages polled together, in the order each partition delivered them.
public struct ConsumerBatch: Sendable {
    public let messages: [ConsumerMessage]
    /// For each partition in the batch, the offset to resume from once the batch is processed
    /// (the last offset seen + 1): what `storeOffsets` records.
    public let nextOffsets: [TopicPartition: Int64]

    public init(messages: [ConsumerMessage]) {
        self.messages = messages
        // A partition's messages come in runs: hash once per run, not once per message.
        var next: [TopicPartition: Int64] = [:]
        var start = 0
        while start < messages.count {
            let first = messages[start]
            var end = start + 1, last = first.offset
            while end < messages.count, messages[end].partition == first.partition, messages[end].topic == first.topic {
                last = max(last, messages[end].offset)
                end += 1
            }
            next[first.topicPartition] = max(next[first.topicPartition] ?? 0, last + 1)
            start = end
        }
        nextOffsets = next
    }
}
