import CRdKafka
import Logging

/// Cluster-level calls: reachability, metadata, topic creation.
public final class KafkaAdmin: Sendable {
    private let client: KafkaClient

    public init(config: KafkaConfig, logger: Logger) throws {
        client = try KafkaClient(
            type: RD_KAFKA_PRODUCER, config: config, defaults: [:],
            context: ClientContext(logger: logger, brokers: config.brokers))
    }

    /// Brokers and topics; throws a retriable error naming the brokers if none answers within `timeout`.
    public func metadata(timeout: Duration = .seconds(10)) throws -> ClusterMetadata {
        try client.metadata(timeout: timeout)
    }

    /// Creates a topic with topic-level `configs` (e.g. `cleanup.policy=compact`); one that already exists
    /// counts as created (neither its partition count nor its configs are changed).
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1, configs: [String: String] = [:],
                            timeout: Duration = .seconds(30)) throws {
        var errstr = [CChar](repeating: 0, count: 512)
        guard let topic = rd_kafka_NewTopic_new(name, Int32(partitions), Int32(replicationFactor), &errstr, errstr.count) else {
            throw KafkaError(code: RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue, operation: "create topic \(name)", message: errorText(errstr))
        }
        defer { rd_kafka_NewTopic_destroy(topic) }
        for (key, value) in configs.sorted(by: { $0.key < $1.key }) {
            try check(rd_kafka_NewTopic_set_config(topic, key, value), "set \(key)=\(value) on new topic \(name)")
        }
        let queue = rd_kafka_queue_new(client.handle)
        defer { rd_kafka_queue_destroy(queue) }
        var topics: [OpaquePointer?] = [topic]
        rd_kafka_CreateTopics(client.handle, &topics, 1, nil, queue)

        guard let event = rd_kafka_queue_poll(queue, timeout.milliseconds) else {
            throw KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, "create topic \(name) within \(timeout)")
        }
        defer { rd_kafka_event_destroy(event) }
        try check(rd_kafka_event_error(event), "create topic \(name)")
        guard let result = rd_kafka_event_CreateTopics_result(event) else {
            preconditionFailure("CreateTopics answered with event type \(rd_kafka_event_type(event))")
        }
        var count = 0
        guard let results = rd_kafka_CreateTopics_result_topics(result, &count) else { return }
        for i in 0..<count {
            let err = rd_kafka_topic_result_error(results[i])
            if err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS { continue }
            let message = rd_kafka_topic_result_error_string(results[i]).map { String(cString: $0) }
            throw KafkaError(code: err.rawValue, operation: "create topic \(name)", message: message)
        }
    }
}
