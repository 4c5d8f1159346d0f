import CRdKafka

/// Messages librdkafka handed to the application in one poll batch, kept in librdkafka's own buffers
/// instead of copied out, and destroyed when the last `ConsumerMessage` of them is gone. Holding them holds
/// the fetch responses they point into, and the client: librdkafka must not be destroyed before the
/// messages it returned.
final class PolledMessages: @unchecked Sendable {
    // @unchecked: immutable after init; the messages are only read, and any thread may destroy them.
    private let client: KafkaClient
    private let raw: [UnsafeMutablePointer<rd_kafka_message_t>]

    init(client: KafkaClient, raw: [UnsafeMutablePointer<rd_kafka_message_t>]) {
        (self.client, self.raw) = (client, raw)
    }

    deinit {
        for message in raw { rd_kafka_message_destroy(message) }
    }

    /// The key of message `i`, nil if it has none.
    func key(_ i: Int) -> UnsafeRawBufferPointer? {
        raw[i].pointee.key.map { UnsafeRawBufferPointer(start: $0, count: raw[i].pointee.key_len) }
    }

    /// The value of message `i` (empty for a null value).
    func value(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: raw[i].pointee.payload, count: raw[i].pointee.payload == nil ? 0 : raw[i].pointee.len)
    }
}
