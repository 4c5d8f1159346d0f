import CRdKafka

/// librdkafka's in-process mock cluster: brokers on localhost listeners that real clients connect to
/// (`bootstrapServers`), with faults on demand — a broker down and up again, the next requests of a
/// kind answered with errors. For tests of how onerec lives through a broker's bad day.
public final class KafkaMockCluster: @unchecked Sendable {
    // @unchecked: librdkafka's mock API is thread-safe; `cluster` runs on `owner`'s threads, which live as long.
    private let owner: OpaquePointer
    private let cluster: OpaquePointer

    /// Kafka protocol request kinds (API keys) faults can be injected into.
    public enum Request: Int16, Sendable {
        case produce = 0, fetch = 1, listOffsets = 2, metadata = 3, offsetCommit = 8, offsetFetch = 9
        case findCoordinator = 10, joinGroup = 11, heartbeat = 12, syncGroup = 14
    }

    public init(brokers: Int = 3) throws(KafkaError) {
        // The cluster runs on the threads of a client of its own, which connects nowhere and logs nothing.
        let conf = rd_kafka_conf_new()
        var errstr = [CChar](repeating: 0, count: 512)
        guard rd_kafka_conf_set(conf, "log_level", "0", &errstr, errstr.count) == RD_KAFKA_CONF_OK,
              let owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(code: RD_KAFKA_RESP_ERR__FAIL.rawValue, operation: "create the mock cluster's client", message: errorText(errstr))
        }
        guard let cluster = rd_kafka_mock_cluster_new(owner, Int32(brokers)) else {
            rd_kafka_destroy(owner)
            throw KafkaError(code: RD_KAFKA_RESP_ERR__FAIL.rawValue, operation: "create a mock cluster of \(brokers) brokers")
        }
        (self.owner, self.cluster) = (owner, cluster)
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
        rd_kafka_destroy(owner)
    }

    /// The brokers' addresses, for `KafkaConfig.brokers`.
    public var bootstrapServers: [String] { String(cString: rd_kafka_mock_cluster_bootstraps(cluster)).split(separator: ",").map(String.init) }

    public func createTopic(_ name: String, partitions: Int, replication: Int = 1) throws(KafkaError) {
        try check(rd_kafka_mock_topic_create(cluster, name, Int32(partitions), Int32(replication)), "create mock topic \(name)")
    }

    /// Brokers are numbered from 1.
    public func setBroker(_ id: Int32, up: Bool) throws(KafkaError) {
        try check(up ? rd_kafka_mock_broker_set_up(cluster, id) : rd_kafka_mock_broker_set_down(cluster, id),
                  "set mock broker \(id) \(up ? "up" : "down")")
    }

    /// How an injected request fails.
    public enum Fault: Sendable {
        /// The broker drops the connection.
        case disconnect
        /// The partition's leader moved (the client must refresh metadata).
        case leaderMoved
        case timedOut
        /// The group's coordinator moved.
        case coordinatorMoved

        var code: rd_kafka_resp_err_t {
            switch self {
            case .disconnect: RD_KAFKA_RESP_ERR__TRANSPORT
            case .leaderMoved: RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION
            case .timedOut: RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT
            case .coordinatorMoved: RD_KAFKA_RESP_ERR_NOT_COORDINATOR
            }
        }
    }

    /// The next `faults.count` requests of `kind` fail, in this order.
    public func failNext(_ kind: Request, with faults: [Fault]) {
        let codes = faults.map(\.code)
        codes.withUnsafeBufferPointer { rd_kafka_mock_push_request_errors_array(cluster, kind.rawValue, codes.count, $0.baseAddress) }
    }
}
