import CRdKafka

/// A librdkafka error: its code, librdkafka's message, and whether retrying can help.
public struct KafkaError: Error, CustomStringConvertible, Sendable {
    /// The raw `rd_kafka_resp_err_t` (negative: client-side, positive: broker-side).
    public let code: Int32
    /// What the wrapper was doing, e.g. `subscribe to [events]`.
    public let operation: String
    /// librdkafka's text for the error.
    public let message: String
    /// The client instance is unusable: it must be recreated.
    public let isFatal: Bool
    /// The same call may succeed later (broker down, timeout, leader moving).
    public let isRetriable: Bool

    public init(code: Int32, operation: String, message: String? = nil, isFatal: Bool = false, isRetriable: Bool? = nil) {
        self.code = code
        self.operation = operation
        self.message = message ?? String(cString: rd_kafka_err2str(rd_kafka_resp_err_t(code)))
        self.isFatal = isFatal || code == RD_KAFKA_RESP_ERR__FATAL.rawValue
        self.isRetriable = isRetriable ?? Self.retriableCodes.contains(code)
    }

    init(_ err: rd_kafka_resp_err_t, _ operation: String) {
        self.init(code: err.rawValue, operation: operation)
    }

    /// Adopts an `rd_kafka_error_t` (and destroys it).
    init(consuming error: OpaquePointer, _ operation: String) {
        self.init(
            code: rd_kafka_error_code(error).rawValue, operation: operation,
            message: String(cString: rd_kafka_error_string(error)),
            isFatal: rd_kafka_error_is_fatal(error) != 0,
            isRetriable: rd_kafka_error_is_retriable(error) != 0)
        rd_kafka_error_destroy(error)
    }

    public var description: String {
        var text = "\(operation): \(message)"
        if isFatal { text += " (fatal: the client must be recreated)" }
        return text
    }

    private static let retriableCodes: Set<Int32> = [
        RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
        RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION,
        RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
    ].reduce(into: []) { $0.insert($1.rawValue) }
}

/// Throws unless `err` is RD_KAFKA_RESP_ERR_NO_ERROR.
func check(_ err: rd_kafka_resp_err_t, _ operation: @autoclosure () -> String) throws(KafkaError) {
    if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, operation()) }
}

/// Throws if a call returned an `rd_kafka_error_t`.
func check(_ error: OpaquePointer?, _ operation: @autoclosure () -> String) throws(KafkaError) {
    if let error { throw KafkaError(consuming: error, operation()) }
}
