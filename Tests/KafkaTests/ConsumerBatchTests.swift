@testable import Kafka
import Testing

@Suite struct ConsumerBatchTests {
    static func message(_ topic: String, _ partition: Int32, _ offset: Int64) -> ConsumerMessage {
        ConsumerMessage(topic: topic, partition: partition, offset: offset, key: nil, value: [], timestamp: nil)
    }

    @Test func nextOffsetsFollowTheLastOffsetOfEachPartitionAcrossInterleavedRuns() {
        let m = Self.message
        let batch = ConsumerBatch(messages: [
            m("a", 0, 10), m("a", 0, 11), m("a", 1, 5), m("b", 0, 7), m("a", 0, 12), m("a", 1, 6), m("a", 1, 9), m("b", 0, 8),
        ])
        #expect(batch.nextOffsets == [
            TopicPartition(topic: "a", partition: 0): 13, TopicPartition(topic: "a", partition: 1): 10,
            TopicPartition(topic: "b", partition: 0): 9,
        ])
        #expect(ConsumerBatch(messages: []).nextOffsets.isEmpty)
    }

    /// A message made by the application keeps copies of its bytes; the batch hands out every value in
    /// message order, an empty value as an empty buffer.
    @Test func valuesAndKeysAreReadBack() {
        let messages = [("k1", "first"), ("", ""), ("k3", "third")].enumerated().map { i, kv in
            ConsumerMessage(topic: "t", partition: 0, offset: Int64(i), key: kv.0.isEmpty ? nil : Array(kv.0.utf8), value: Array(kv.1.utf8), timestamp: nil)
        }
        #expect(messages.map(\.key) == [Array("k1".utf8), nil, Array("k3".utf8)])
        #expect(ConsumerBatch(messages: messages).withValues { $0.map { String(decoding: $0, as: UTF8.self) } } == ["first", "", "third"])
    }
}
