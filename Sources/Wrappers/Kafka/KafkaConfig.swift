import CRdKafka

/// Connection settings shared by consumers, producers and admin calls.
public struct KafkaConfig: Sendable {
    /// Bootstrap brokers, "host:port" each.
    public var brokers: [String]
    /// `client.id` sent to the broker. Default "onerec".
    public var clientID: String = "onerec"
    /// Any other librdkafka property (see librdkafka's CONFIGURATION.md), applied last.
    public var properties: [String: String] = [:]

    public init(brokers: [String], clientID: String = "onerec", properties: [String: String] = [:]) {
        self.brokers = brokers
        self.clientID = clientID
        self.properties = properties
    }
}

/// An `rd_kafka_conf_t` being filled; every property is checked as it is set.
struct ConfBuilder {
    let conf: OpaquePointer

    init(_ config: KafkaConfig, defaults: [String: String]) throws(KafkaError) {
        guard !config.brokers.isEmpty else {
            throw KafkaError(code: RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue, operation: "configure Kafka",
                             message: "no brokers given: set kafka.brokers to host:port[,host:port]")
        }
        conf = rd_kafka_conf_new()
        do {
            try set("bootstrap.servers", config.brokers.joined(separator: ","))
            try set("client.id", config.clientID)
            // librdkafka's logs are queued and emitted from our poll loop into swift-log.
            try set("log.queue", "true")
            for (key, value) in defaults.merging(config.properties, uniquingKeysWith: { $1 }).sorted(by: { $0.key < $1.key }) {
                try set(key, value)
            }
        } catch {
            rd_kafka_conf_destroy(conf)
            throw error
        }
    }

    func set(_ key: String, _ value: String) throws(KafkaError) {
        var errstr = [CChar](repeating: 0, count: 512)
        if rd_kafka_conf_set(conf, key, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
            throw KafkaError(code: RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue, operation: "set Kafka property \(key)",
                             message: errorText(errstr))
        }
    }
}

/// The text librdkafka wrote into an `errstr` buffer.
func errorText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The linked librdkafka's version, e.g. "2.0.2".
public var librdkafkaVersion: String { String(cString: rd_kafka_version_str()) }
