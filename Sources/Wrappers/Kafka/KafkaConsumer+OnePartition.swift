import Logging

extension KafkaConsumer {
    /// A reader of a one-partition topic (a cluster's models, lease or members topic) from its first
    /// record, by manual assignment: no consumer group is joined. It looks for a topic created a moment
    /// ago every 2 s (not at librdkafka's 5-minute metadata refresh). `properties` go on top of those.
    public static func onePartition(_ topic: String, kafka: KafkaConfig, clientGroup: String, properties: [String: String] = [:],
                                    configure: (inout Config) -> Void = { _ in }, logger: Logger) throws -> KafkaConsumer {
        var readerKafka = kafka
        readerKafka.properties = ["topic.metadata.refresh.interval.ms": "2000"].merging(properties) { $1 }.merging(kafka.properties) { $1 }
        var config = Config(kafka: readerKafka, groupID: clientGroup, topics: [topic])
        config.manualAssignment = true
        configure(&config)
        let consumer = try KafkaConsumer(config: config, logger: logger)
        consumer.assign([TopicPartition(topic: topic, partition: 0)])
        return consumer
    }

    /// Runs the consumer, hands each batch to `read` in order, and runs `beside` alongside (a writer of
    /// the same topic); returns when all three are done (`beside` should end by calling `stop()`).
    public func run(reading read: @escaping @Sendable (ConsumerBatch) -> Void, beside: @escaping @Sendable () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.run() }
            group.addTask {
                for try await batch in self.batches { read(batch) }
            }
            group.addTask { try await beside() }
            try await group.waitForAll()
        }
    }
}
