@testable import Kafka
import Testing

/// A consumer in manual assignment reads exactly the partitions it is given, from the start of retention
/// or from the application's offsets, and moves between them while it runs; `KeyPartitioner` names the
/// partition librdkafka's producers put each key in.
@Suite(.serialized) struct ManualAssignmentTests {
    /// Produces "key:partitioner" messages with user-id keys through `partitioner`; every message is found
    /// in the partition `KeyPartitioner` computes.
    @Test(arguments: [(KeyPartitioner.crc32, "consistent_random"), (.murmur2, "murmur2_random")])
    func keysLandWhereThePartitionerSays(partitioner: KeyPartitioner, property: String) async throws {
        let topic = try TestBroker.topic("partitioner-\(partitioner.rawValue)", partitions: 6)
        var kafka = try TestBroker.config()
        kafka.properties["partitioner"] = property
        let producer = try KafkaProducer(config: kafka, logger: TestBroker.quietLogger)
        for user in 0..<600 { try producer.send(topic: topic, key: Array("\(user * 7919)".utf8), value: Array("\(user * 7919)".utf8)) }
        try producer.flush(timeout: .seconds(60))

        let consumer = try manualConsumer(topic)
        consumer.assign(Set((0..<6).map { TopicPartition(topic: topic, partition: $0) }))
        let messages = try await read(consumer, count: 600)
        #expect(messages.count == 600)
        for m in messages {
            #expect(m.partition == partitioner.partition(of: m.value, partitions: 6), "key \(String(decoding: m.value, as: UTF8.self))")
        }
        #expect(Set(messages.map(\.partition)).count == 6, "the keys spread over every partition")
    }

    /// Given partition 0, then partitions 0 and 1 (1 from an offset the application kept), then 1 alone:
    /// each message is read once, from where it should be, and the ends reached follow the assignment.
    @Test func assignmentsChangeWhileRunning() async throws {
        let topic = try TestBroker.topic("manual", partitions: 2)
        let producer = try KafkaProducer(config: try TestBroker.config(), logger: TestBroker.quietLogger)
        for i in 0..<100 { try producer.send(topic: topic, key: nil, value: Array("\(i)".utf8), partition: Int32(i % 2)) }
        try producer.flush(timeout: .seconds(60))
        let (p0, p1) = (TopicPartition(topic: topic, partition: 0), TopicPartition(topic: topic, partition: 1))

        let consumer = try manualConsumer(topic, starts: [p1: 40])
        let run = Task { try await consumer.run() }
        defer { run.cancel() }
        var batches = consumer.batches.makeAsyncIterator()
        consumer.assign([p0])
        var seen: [ConsumerMessage] = []
        while seen.count < 50, let batch = try await batches.next() { seen += batch.messages }
        #expect(seen.allSatisfy { $0.partition == 0 } && seen.map(\.offset) == Array(0..<50))
        try await waitFor { consumer.endsReached == [p0: 50] }

        consumer.assign([p0, p1])
        seen = []
        while seen.count < 10, let batch = try await batches.next() { seen += batch.messages }
        #expect(seen.allSatisfy { $0.partition == 1 } && seen.map(\.offset) == Array(40..<50))
        try await waitFor { consumer.endsReached == [p0: 50, p1: 50] }

        consumer.assign([p1])
        try await waitFor { consumer.assignment == [p1] && consumer.endsReached.keys.sorted { $0.partition < $1.partition } == [p1] }
        consumer.stop()
        try await run.value
    }

    func manualConsumer(_ topic: String, starts: [TopicPartition: Int64] = [:]) throws -> KafkaConsumer {
        var config = KafkaConsumer.Config(kafka: try TestBroker.config(), groupID: "manual-\(topic)", topics: [topic])
        config.manualAssignment = true
        return try KafkaConsumer(config: config, logger: TestBroker.quietLogger) { partitions in starts.filter { partitions.contains($0.key) } }
    }

    func read(_ consumer: KafkaConsumer, count: Int) async throws -> [ConsumerMessage] {
        let run = Task { try await consumer.run() }
        var messages: [ConsumerMessage] = []
        for try await batch in consumer.batches {
            messages += batch.messages
            if messages.count >= count { break }
        }
        consumer.stop()
        try await run.value
        return messages
    }
}
