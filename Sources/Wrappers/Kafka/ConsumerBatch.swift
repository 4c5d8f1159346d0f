import Foundation

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

/// One consumed message. A polled message's key and value stay in librdkafka's buffers, which the message
/// keeps alive: `withUnsafeBytes` reads the value where it is, `key` and `value` copy.
public struct ConsumerMessage: Sendable, ContiguousBytes {
    public let topic: String
    public let partition: Int32
    public let offset: Int64
    /// Milliseconds since the epoch, if the message carries a timestamp.
    public let timestamp: Int64?
    private let payload: Payload

    private enum Payload: Sendable {
        case owned(key: [UInt8]?, value: [UInt8])
        case polled(PolledMessages, index: Int)
    }

    /// A message with bytes of its own.
    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8], timestamp: Int64?) {
        (self.topic, self.partition, self.offset, self.timestamp) = (topic, partition, offset, timestamp)
        payload = .owned(key: key, value: value)
    }

    /// Message `index` of a poll batch, read in place.
    init(topic: String, partition: Int32, offset: Int64, timestamp: Int64?, polled: PolledMessages, index: Int) {
        (self.topic, self.partition, self.offset, self.timestamp) = (topic, partition, offset, timestamp)
        payload = .polled(polled, index: index)
    }

    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }

    /// The key, copied; nil if the message has none.
    public var key: [UInt8]? {
        switch payload {
        case let .owned(key, _): key
        case let .polled(messages, i): withExtendedLifetime(messages) { messages.key(i).map { Array($0) } }
        }
    }

    /// The value, copied.
    public var value: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Runs `body` on the value's bytes where they are; they are valid only inside `body`.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch payload {
        case let .owned(_, value): try value.withUnsafeBytes(body)
        case let .polled(messages, i): try withExtendedLifetime(messages) { try body(messages.value(i)) }
        }
    }
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
