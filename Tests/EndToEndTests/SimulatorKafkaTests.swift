import Events
import Foundation
import Kafka
import Logging
import TestSupport
import Testing

@Suite struct SimulatorKafkaTests {
    /// A 10,000-user log produced to the real broker reads back intact: the same events, byte for byte,
    /// as the same world writes to a file.
    @Test func tenThousandUserLogRoundTripsThroughKafka() async throws {
        guard let broker = ProcessInfo.processInfo.environment["ONEREC_TEST_KAFKA"] else {
            Issue.record("ONEREC_TEST_KAFKA is not set: run the tests with scripts/test.sh")
            return
        }
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let onerec = builtExecutable("onerec")
        let world = ["--users", "10000", "--items", "1000", "--requests", "1", "--seed", "3"]
        let file = try runToCompletion(onerec, ["simulate", "log", "--out", dir.path + "/log.jsonl"] + world)
        #expect(file.status == 0, "\(file.stderr)")
        let expected = try String(contentsOfFile: dir.path + "/log.jsonl", encoding: .utf8).split(separator: "\n").map(String.init)

        let suffix = UUID().uuidString.prefix(8)
        let topics = ("sim-interactions-\(suffix)", "sim-items-\(suffix)")
        var logger = Logger(label: "sim-test")
        logger.logLevel = .warning
        let admin = try KafkaAdmin(config: KafkaConfig(brokers: [broker]), logger: logger)
        try admin.createTopic(topics.0, partitions: 4)
        try admin.createTopic(topics.1, partitions: 1)
        let produced = try runToCompletion(onerec, ["simulate", "log", "--brokers", broker, "--topic", topics.0, "--items-topic", topics.1] + world)
        #expect(produced.status == 0, "\(produced.stderr)")

        var config = KafkaConsumer.Config(kafka: KafkaConfig(brokers: [broker]), groupID: "sim-\(suffix)", topics: [topics.0, topics.1])
        config.groupInstanceID = "reader"
        let consumer = try KafkaConsumer(config: config, logger: logger)
        let run = Task { try await consumer.run() }
        var received: [String] = []
        var perUser: [UInt64: [Int64]] = [:]
        let decoder = EventDecoder(embeddingDimension: 32)
        let later = Date(timeIntervalSince1970: 1_767_225_600 + 86_400)
        for try await batch in consumer.batches {
            for m in batch.messages {
                let text = String(decoding: m.value, as: UTF8.self)
                received.append(text)
                if case .success(.interaction(let e)) = decoder.decode(m.value, now: later) {
                    #expect(m.key == Array("\(e.userID)".utf8))
                    perUser[e.userID, default: []].append(e.timestampMs)
                }
            }
            if received.count >= expected.count { break }
        }
        consumer.stop()
        try await run.value
        #expect(received.count == expected.count)
        #expect(received.sorted() == expected.sorted())
        // Keyed by user, each user's events arrive in order.
        #expect(perUser.values.allSatisfy { $0 == $0.sorted() })
        #expect(perUser.count > 9_000)
    }
}
