import Foundation
import Kafka
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// This node's membership of the cluster: it writes its `MemberRecord` to the members topic every third
/// of the timeout (and a `leave` when it stops gracefully), and reads the whole topic into a
/// `MemberTable`, which every node therefore shares: who is live, where each answers, which partitions
/// each owns and has ready. The topic is read by manual assignment (no consumer group to join).
public final class ClusterMembers: Service, Sendable {
    /// The model version this node serves and its ingest's lag; asked before each heartbeat.
    public typealias Progress = @Sendable () -> (servingVersion: UInt32?, lag: Int64?)

    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let topic: String
    private let node: String
    private let role: MemberRecord.Role
    private let url: String
    private let timeout: Duration
    private let progress: Progress
    /// What `announce` last set, and whether it changed since the last heartbeat.
    private let announced = Mutex((partitions: Int32(0), ready: [Int32](), changed: false))
    private let logger: Logger
    private let state: Mutex<MemberTable>

    public init(kafka: KafkaConfig, topic: String, node: String, role: MemberRecord.Role, url: String, timeout: Duration,
                logger: Logger, progress: @escaping Progress) throws {
        consumer = try KafkaConsumer.onePartition(topic, kafka: kafka, clientGroup: "\(node).members", configure: { $0.idleCheckInterval = .milliseconds(20) },
                                                  logger: logger)
        producer = try KafkaProducer(config: kafka, logger: logger)
        (self.topic, self.node, self.role, self.url, self.timeout, self.progress, self.logger) =
            (topic, node, role, url, timeout, progress, logger)
        state = Mutex(MemberTable(timeoutMs: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
    }

    /// Creates the members topic (one partition, compacted, stamped by the broker so that liveness does
    /// not depend on the nodes' clocks) unless it exists.
    public static func createTopic(_ topic: String, kafka: KafkaConfig, logger: Logger) throws {
        try KafkaAdmin(config: kafka, logger: logger).createTopic(topic, partitions: 1, configs: [
            "cleanup.policy": "compact", "message.timestamp.type": "LogAppendTime",
        ])
    }

    /// The table as read so far.
    public var table: MemberTable { state.withLock { $0 } }

    /// Whether the whole topic has been read once (before that the table may lack live nodes).
    public var caughtUp: Bool { !consumer.endsReached.isEmpty }

    /// What this node's heartbeats say from now on: the interactions topic's partition count and the
    /// partitions it has ready. A change of the ready partitions is written at once (the others route
    /// by it), not at the next heartbeat.
    public func announce(partitions: Int32, ready: [Int32]) {
        announced.withLock { a in
            if a.partitions != partitions || a.ready != ready { a = (partitions, ready, true) }
        }
    }

    public func run() async throws {
        try await consumer.run(reading: { self.read($0) }, beside: { await self.heartbeats() })
    }

    /// A heartbeat every third of the timeout, and at once when the ready partitions change; a `leave` at
    /// the end.
    private func heartbeats() async {
        var last = ContinuousClock.now - .seconds(3600)
        while !Task.isShuttingDownGracefully && !Task.isCancelled && !consumer.isStopping {
            if last.duration(to: .now) >= timeout / 3 || announced.withLock({ $0.changed }) {
                do {
                    try await write(.heartbeat)
                    last = .now
                } catch {
                    logger.warning("member heartbeat not written", metadata: ["error": "\(error)", "topic": "\(topic)"])
                }
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        do {
            try await write(.leave)
            logger.notice("left the cluster", metadata: ["node": "\(node)"])
        } catch {
            logger.warning("leave not written; the others notice after the member timeout", metadata: ["error": "\(error)"])
        }
        consumer.stop()
    }

    private func read(_ batch: ConsumerBatch) {
        for message in batch.messages {
            guard let record = try? JSONDecoder().decode(MemberRecord.self, from: Data(message.value)), let at = message.timestamp else {
                Counter(label: "onerec_cluster_member_records_refused_total").increment()
                logger.warning("members topic record refused", metadata: ["offset": "\(message.offset)"])
                continue
            }
            let changed = state.withLock { $0.apply(record, timestampMs: at) }
            if changed {
                let owners = table.owners
                let counts = Dictionary(grouping: owners.values, by: { $0 }).mapValues(\.count)
                logger.info("partition owners changed", metadata: ["owners": "\(counts.sorted { $0.key < $1.key })"])
            }
        }
    }

    private func write(_ kind: MemberRecord.Kind) async throws {
        let now = announced.withLock { a in
            defer { a.changed = false }
            return a
        }
        let (version, lag) = progress()
        let record = MemberRecord(kind: kind, node: node, role: role, url: url, partitions: now.partitions, ready: now.ready,
                                  servingVersion: version, lag: lag)
        let value = Array(try JSONEncoder().encode(record))
        _ = try await Task.detached { try self.producer.sendAndWait(topic: self.topic, key: Array(self.node.utf8), value: value, partition: 0) }.value
    }
}
