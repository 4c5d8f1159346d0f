import Foundation
import Kafka
import Logging

/// The real broker started by scripts/test-broker.sh (scripts/test.sh exports its address).
enum TestBroker {
    struct NotRunning: Error, CustomStringConvertible {
        var description: String {
            "ONEREC_TEST_KAFKA is not set: run the tests with scripts/test.sh, which starts the test broker"
        }
    }

    static func config() throws -> KafkaConfig {
        guard let address = ProcessInfo.processInfo.environment["ONEREC_TEST_KAFKA"], !address.isEmpty else {
            throw NotRunning()
        }
        return KafkaConfig(brokers: [address], clientID: "onerec-tests")
    }

    /// A new topic with a name no other test uses.
    static func topic(_ name: String, partitions: Int) throws -> String {
        let topic = "\(name)-\(UUID().uuidString.prefix(8))"
        try KafkaAdmin(config: config(), logger: quietLogger).createTopic(topic, partitions: partitions)
        return topic
    }

    static let quietLogger: Logger = {
        var logger = Logger(label: "kafka-tests")
        logger.logLevel = .warning
        return logger
    }()

    /// Produces `count` messages valued "0", "1", ... keyed by value mod 97; returns their values.
    static func produce(_ count: Int, to topic: String) throws -> Set<String> {
        let producer = try KafkaProducer(config: config(), logger: quietLogger)
        for i in 0..<count {
            try producer.send(topic: topic, key: Array("user-\(i % 97)".utf8), value: Array(String(i).utf8))
        }
        try producer.flush(timeout: .seconds(60))
        return Set((0..<count).map(String.init))
    }

    static func consumer(group: String, topic: String, instance: String, logger: Logger = quietLogger) throws -> KafkaConsumer {
        var config = KafkaConsumer.Config(kafka: try config(), groupID: group, topics: [topic])
        config.groupInstanceID = instance
        return try KafkaConsumer(config: config, logger: logger)
    }
}
