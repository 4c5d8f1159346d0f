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
public struct ConsumerMessage: @unchecked Sendable, ContiguousBytes {
    // @unchecked: `keyBytes` and `valueBytes` point into memory that `owner` keeps alive and nothing changes.
    public let topic: String
    public let partition: Int32
    public let offset: Int64
    /// Milliseconds since the epoch, if the message carries a timestamp.
    public let timestamp: Int64?
    /// What holds the bytes: the poll batch's `PolledMessages`, or an `OwnedBytes`. Held as a plain
    /// reference beside the pointers (not as an enum payload to match on) so that reading the value
    /// does not retain and release it: validation threads and the store's writer all read messages of one
    /// batch, which share one owner.
    private let owner: AnyObject
    private let keyBytes: UnsafeRawBufferPointer?
    fileprivate let valueBytes: UnsafeRawBufferPointer

    /// A message with bytes of its own.
    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8], timestamp: Int64?) {
        (self.topic, self.partition, self.offset, self.timestamp) = (topic, partition, offset, timestamp)
        let owned = OwnedBytes(key: key, value: value)
        (owner, keyBytes, valueBytes) = (owned, owned.key, owned.value)
    }

    /// Message `index` of a poll batch, read in place.
    init(topic: String, partition: Int32, offset: Int64, timestamp: Int64?, polled: PolledMessages, index: Int) {
        (self.topic, self.partition, self.offset, self.timestamp) = (topic, partition, offset, timestamp)
        (owner, keyBytes, valueBytes) = (polled, polled.key(index), polled.value(index))
    }

    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }

    /// The key, copied; nil if the message has none. (The message, and with it `owner`, stays alive while
    /// any of its methods runs: no retain of `owner` is needed to read the bytes.)
    public var key: [UInt8]? { keyBytes.map { Array($0) } }

    /// The value, copied.
    public var value: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Runs `body` on the value's bytes where they are; they are valid only inside `body`.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(valueBytes)
    }
}

/// The bytes of a message made by the application (not polled): copies, freed with the last message.
private final class OwnedBytes: @unchecked Sendable {
    // @unchecked: written once in init, only read after.
    let key: UnsafeRawBufferPointer?
    let value: UnsafeRawBufferPointer

    init(key: [UInt8]?, value: [UInt8]) {
        self.key = key.map { Self.copy($0) }
        self.value = Self.copy(value)
    }

    deinit {
        key?.deallocate()
        value.deallocate()
    }

    private static func copy(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        bytes.withUnsafeBytes { copy.copyMemory(from: $0) }
        return UnsafeRawBufferPointer(copy)
    }
}

/// Messages polled together, in the order each partition delivered them.
public struct ConsumerBatch: Sendable {
    public let messages: [ConsumerMessage]
    /// For each partition in the batch, the offset to resume from once the batch is processed
    /// (the last offset seen + 1): what `storeOffsets` records.
    public let nextOffsets: [TopicPartition: Int64]

    /// Runs `body` with every message's value where it is, in message order; the bytes are valid only
    /// inside `body`.
    public func withValues<R>(_ body: ([UnsafeRawBufferPointer]) throws -> R) rethrows -> R {
        try withExtendedLifetime(messages) { try body(messages.map(\.valueBytes)) }
    }

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
