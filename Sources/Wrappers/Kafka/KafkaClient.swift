import Foundation
import CRdKafka
import Logging
import Synchronization

/// One `rd_kafka_t` and the Swift state its C callbacks reach through the configuration's opaque
/// pointer. Consumers, producers and admin calls all sit on one of these.
final class KafkaClient: @unchecked Sendable {
    // @unchecked: librdkafka's handle is thread-safe for the calls made here; `context` is Sendable.
    let handle: OpaquePointer
    let context: ClientContext
    private let retainedContext: Unmanaged<ClientContext>

    /// Creates the handle. `configure` may install more callbacks before the conf is handed over.
    init(
        type: rd_kafka_type_t, config: KafkaConfig, defaults: [String: String], context: ClientContext,
        configure: (OpaquePointer) -> Void = { _ in }
    ) throws(KafkaError) {
        let builder = try ConfBuilder(config, defaults: defaults)
        retainedContext = Unmanaged.passRetained(context)
        self.context = context
        rd_kafka_conf_set_opaque(builder.conf, retainedContext.toOpaque())
        rd_kafka_conf_set_log_cb(builder.conf) { rk, level, facility, buffer in
            guard let rk, let context = ClientContext.from(rd_kafka_opaque(rk)) else { return }
            context.log(level: level, facility: facility.map { String(cString: $0) } ?? "", message: buffer.map { String(cString: $0) } ?? "")
        }
        rd_kafka_conf_set_error_cb(builder.conf) { rk, err, reason, opaque in
            guard let context = ClientContext.from(opaque) else { return }
            var fatal: KafkaError?
            if err == RD_KAFKA_RESP_ERR__FATAL.rawValue, let rk {
                var errstr = [CChar](repeating: 0, count: 512)
                let code = rd_kafka_fatal_error(rk, &errstr, errstr.count)
                fatal = KafkaError(code: code.rawValue, operation: "Kafka client", message: errorText(errstr), isFatal: true)
            }
            context.clientError(fatal ?? KafkaError(code: err, operation: "Kafka client", message: reason.map { String(cString: $0) }))
        }
        configure(builder.conf)

        var errstr = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(type, builder.conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(builder.conf)
            retainedContext.release()
            throw KafkaError(code: RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue, operation: "create Kafka client",
                             message: errorText(errstr))
        }
        self.handle = handle
        // Forward the log queue to the main queue, which our poll calls serve.
        try check(rd_kafka_set_log_queue(handle, nil), "route librdkafka logs")
    }

    deinit {
        rd_kafka_destroy(handle)
        retainedContext.release()
    }

    /// Brokers and topics as the cluster reports them; fails if no broker answers within `timeout`.
    func metadata(timeout: Duration) throws(KafkaError) -> ClusterMetadata {
        var pointer: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(handle, 1, nil, &pointer, timeout.milliseconds)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(err, "reach Kafka brokers \(context.brokers) within \(timeout)")
        }
        guard let metadata = pointer?.pointee else { preconditionFailure("rd_kafka_metadata returned no data") }
        defer { rd_kafka_metadata_destroy(pointer) }
        let brokers = (0..<Int(metadata.broker_cnt)).map { i in
            let b = metadata.brokers[i]
            return "\(String(cString: b.host)):\(b.port)"
        }
        var topics: [String: Int] = [:]
        for i in 0..<Int(metadata.topic_cnt) {
            let t = metadata.topics[i]
            if t.err == RD_KAFKA_RESP_ERR_NO_ERROR { topics[String(cString: t.topic)] = Int(t.partition_cnt) }
        }
        return ClusterMetadata(brokers: brokers, topics: topics)
    }
}

/// What the cluster reported.
public struct ClusterMetadata: Sendable {
    /// "host:port" of each broker.
    public let brokers: [String]
    /// Partition count of each topic.
    public let topics: [String: Int]
}

/// State the C callbacks reach: the logger and the brokers (for messages).
class ClientContext: @unchecked Sendable {
    // @unchecked: immutable but for `unreachable` (a Mutex); subclasses keep their mutable state behind locks.
    let logger: Logger
    let brokers: String
    /// Since when librdkafka has reported every broker down; nil once one answered again.
    let unreachable = Mutex<Date?>(nil)

    init(logger: Logger, brokers: [String]) {
        self.logger = logger
        self.brokers = brokers.joined(separator: ",")
    }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> ClientContext? {
        opaque.map { Unmanaged<ClientContext>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Logs a client-level error (broker down, authentication, fatal); notes when every broker is down.
    func clientError(_ error: KafkaError) {
        if error.code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.rawValue { unreachable.withLock { $0 = $0 ?? Date() } }
        if error.isFatal {
            logger.error("kafka fatal error", metadata: ["error": "\(error)"])
        } else {
            logger.warning("kafka error", metadata: ["error": "\(error)"])
        }
    }

    func log(level: Int32, facility: String, message: String) {
        // syslog levels: 0 emerg ... 7 debug.
        let swiftLevel: Logger.Level = switch level {
        case ...2: .critical
        case 3: .error
        case 4: .warning
        case 5: .notice
        case 6: .info
        default: .debug
        }
        logger.log(level: swiftLevel, "\(message)", metadata: ["facility": "\(facility)", "source": "librdkafka"])
    }
}

extension Duration {
    /// Whole milliseconds, clamped to Int32 for librdkafka's timeout arguments.
    var milliseconds: Int32 {
        let (seconds, attoseconds) = components
        let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return Int32(clamping: ms)
    }
}
