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
}
