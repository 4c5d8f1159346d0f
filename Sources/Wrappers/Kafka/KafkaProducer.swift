import CRdKafka
import Logging
import Synchronization

/// Sends messages; `flush` waits until the broker has acknowledged every one or reports the first that
/// failed. Used by tools, tests and the dead-letter topic.
public final class KafkaProducer: Sendable {
    private let client: KafkaClient
    private let context: ProducerContext

    /// `acks=all` and a 5 ms linger by default; anything in `config.properties` overrides.
    public init(config: KafkaConfig, logger: Logger) throws {
        let context = ProducerContext(logger: logger, brokers: config.brokers)
        client = try KafkaClient(
            type: RD_KAFKA_PRODUCER, config: config, defaults: ["acks": "all", "linger.ms": "5"], context: context
        ) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
                guard let message, let context = ClientContext.from(opaque) as? ProducerContext else { return }
                context.delivered(message.pointee)
            }
        }
        self.context = context
    }

    /// Queues one message (copied). Waits while librdkafka's local queue is full. A partition of nil
    /// lets the partitioner hash the key.
    public func send(topic: String, key: [UInt8]?, value: [UInt8], partition: Int32? = nil) throws {
        try produce(topic: topic, key: key, value: value, partition: partition)
    }

    /// Queues a tombstone (a null value) for `key`: a compacted topic then forgets the key's records.
    public func sendTombstone(topic: String, key: [UInt8], partition: Int32? = nil) throws {
        try produce(topic: topic, key: key, value: nil, partition: partition)
    }

    private func produce(topic: String, key: [UInt8]?, value: [UInt8]?, partition: Int32?) throws {
        while true {
            let rc = withOptionalBytes(value) { v in
                withOptionalBytes(key) { k in
                    rd_kafka_produce_shim(client.handle, topic, partition ?? RD_KAFKA_PARTITION_UA,
                                          v?.baseAddress, v?.count ?? 0, k?.baseAddress, k?.count ?? 0)
                }
            }
            if rc == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                rd_kafka_poll(client.handle, 100)
                continue
            }
            try check(rc, "produce to \(topic)")
            rd_kafka_poll(client.handle, 0)
            return
        }
    }

    /// Sends one message to `partition` and waits for the broker's acknowledgement: the offset it was
    /// written at (after everything queued before it).
    public func sendAndWait(topic: String, key: [UInt8]?, value: [UInt8], partition: Int32, timeout: Duration = .seconds(30)) throws -> Int64 {
        try flush(timeout: timeout)
        try send(topic: topic, key: key, value: value, partition: partition)
        try flush(timeout: timeout)
        guard let offset = context.lastOffset(topic: topic, partition: partition), offset >= 0 else {
            throw KafkaError(RD_KAFKA_RESP_ERR__BAD_MSG, "learn the offset of a message to \(topic)[\(partition)]: the broker did not report it")
        }
        return offset
    }

    /// Waits until every queued message is delivered (or `timeout` passes) and throws the first
    /// delivery failure since the last flush.
    public func flush(timeout: Duration = .seconds(30)) throws {
        try check(rd_kafka_flush(client.handle, timeout.milliseconds), "flush producer within \(timeout)")
        if let failure = context.takeFailure() { throw failure }
    }
}

/// The producer's callback state: delivery counts and the first failure.
final class ProducerContext: ClientContext, @unchecked Sendable {
    // @unchecked: the first failure is behind a Mutex.
    private let failure = Mutex<KafkaError?>(nil)
    private let offsets = Mutex<[String: Int64]>([:])  // "topic/partition" -> the offset of the last message delivered there

    func delivered(_ message: rd_kafka_message_t) {
        guard message.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            recordFailure(message)
            return
        }
        let key = "\(String(cString: rd_kafka_topic_name(message.rkt)))/\(message.partition)"
        offsets.withLock { $0[key] = max($0[key] ?? -1, message.offset) }
    }

    func lastOffset(topic: String, partition: Int32) -> Int64? { offsets.withLock { $0["\(topic)/\(partition)"] } }

    private func recordFailure(_ message: rd_kafka_message_t) {
        failure.withLock { f in
            if f == nil { f = KafkaError(message.err, "deliver message to \(String(cString: rd_kafka_topic_name(message.rkt)))") }
        }
    }

    func takeFailure() -> KafkaError? {
        failure.withLock { f in
            defer { f = nil }
            return f
        }
    }
}

private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}
