import Foundation
import Kafka
import Logging
import ServiceLifecycle
import Synchronization

/// One trainer at a time, decided by a one-partition lease topic (`LeaseLog`): every train node reads it
/// from the start; the leader writes a heartbeat every third of `timeout`; a standby that has read the
/// whole topic and has not seen the leader's heartbeat for `timeout` (on its own clock) claims the lease,
/// and leads if its claim is the one the log accepts. The accepted claim's offset is the leader's epoch,
/// which stamps everything it publishes (`ModelTopicWriter`), so records of a deposed leader are told
/// apart everywhere. A leader that shuts down gracefully writes a release and a standby claims at once;
/// one that dies is replaced after `timeout` and a little more.
public final class TrainerLease: Service, Sendable {
    public enum State: Sendable, Equatable {
        case standby
        case leading(epoch: Int64)
        /// It led and the log gave the lease to another node: a deposed leader must stop publishing.
        case lost(epoch: Int64)
    }

    /// The lease as this node has read it.
    public struct View: Sendable, Equatable {
        public var state: State
        public var leader: String?
        public var epoch: Int64?
    }

    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let topic: String
    private let node: String
    private let timeout: Duration
    private let logger: Logger
    private let current = Mutex(View(state: .standby, leader: nil, epoch: nil))
    private let log = Mutex(LeaseLog())
    /// When this node last saw the leader alive (a claim, heartbeat or release read), on its own clock.
    private let lastSeen = Mutex(ContinuousClock.now)

    /// `node`: this node's name in the lease records (unique among the train nodes). The topic's one
    /// partition is read by manual assignment, from the start; no consumer group is joined.
    public init(kafka: KafkaConfig, topic: String, node: String, timeout: Duration, logger: Logger) throws {
        consumer = try KafkaConsumer.onePartition(topic, kafka: kafka, clientGroup: "\(node).lease", configure: { $0.idleCheckInterval = .milliseconds(20) },
                                                  logger: logger)
        producer = try KafkaProducer(config: kafka, logger: logger)
        (self.topic, self.node, self.timeout, self.logger) = (topic, node, timeout, logger)
    }

    /// Creates the lease topic (one partition) unless it exists.
    public static func createTopic(_ topic: String, kafka: KafkaConfig, logger: Logger) throws {
        try KafkaAdmin(config: kafka, logger: logger).createTopic(topic, partitions: 1)
    }

    public var view: View { current.withLock { $0 } }
    public var state: State { view.state }

    /// Waits until this node leads; returns its epoch.
    public func leadership() async throws -> Int64 {
        while true {
            if case .leading(let epoch) = state { return epoch }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    public func run() async throws {
        try await consumer.run(reading: { self.read($0) }, beside: { try await self.keepOrClaim() })
    }

    /// Heartbeats while leading, a claim when the leader is gone; a release at the end if leading (a
    /// leader that stops gracefully hands over at once).
    private func keepOrClaim() async throws {
        var lastHeartbeat = ContinuousClock.now - .seconds(3600)
        while !Task.isShuttingDownGracefully && !Task.isCancelled && !consumer.isStopping {
            lastHeartbeat = try await act(lastHeartbeat: lastHeartbeat)
            try? await Task.sleep(for: .milliseconds(20))
        }
        if case .leading(let epoch) = state {
            _ = try? await write(LeaseRecord(kind: .release, node: node, epoch: epoch))
            logger.notice("trainer lease released", metadata: ["epoch": "\(epoch)"])
        }
        consumer.stop()
    }

    private func read(_ batch: ConsumerBatch) {
        for message in batch.messages {
            guard let record = try? JSONDecoder().decode(LeaseRecord.self, from: Data(message.value)) else {
                logger.warning("lease topic record refused", metadata: ["offset": "\(message.offset)"])
                continue
            }
            let outcome = log.withLock { $0.apply(record, at: message.offset) }
            if outcome != .rejected && outcome != .ignored { lastSeen.withLock { $0 = .now } }
            if case .accepted(let epoch) = outcome {
                logger.info("trainer lease given", metadata: ["node": "\(record.node)", "epoch": "\(epoch)"])
            }
        }
        let leader = log.withLock { $0.leader }
        current.withLock { view in
            (view.leader, view.epoch) = (leader?.node, leader?.epoch)
            switch view.state {
            case .standby:
                if let leader, leader.node == node { view.state = .leading(epoch: leader.epoch) }
            case .leading(let epoch):
                if leader?.epoch != epoch {
                    view.state = .lost(epoch: epoch)
                    logger.error("trainer lease lost: another train node leads", metadata: ["epoch": "\(epoch)", "leader": "\(leader?.node ?? "?")"])
                }
            case .lost:
                break
            }
        }
    }

    /// A leader's heartbeat when due; a standby's claim when the leader is gone (none yet, released, or
    /// silent for `timeout`). Returns when the last heartbeat was written.
    private func act(lastHeartbeat: ContinuousClock.Instant) async throws -> ContinuousClock.Instant {
        switch view.state {
        case .leading(let epoch):
            guard lastHeartbeat.duration(to: .now) >= timeout / 3 else { return lastHeartbeat }
            _ = try await write(LeaseRecord(kind: .heartbeat, node: node, epoch: epoch))
            return .now
        case .lost:
            return lastHeartbeat
        case .standby:
            let caughtUp = !consumer.assignment.isEmpty && consumer.pausedAtEnd.isSuperset(of: consumer.assignment)
            let (leader, released) = log.withLock { ($0.leader, $0.released) }
            let silent = lastSeen.withLock { $0 }.duration(to: .now) >= timeout
            guard caughtUp, leader == nil || released || silent else { return lastHeartbeat }
            let replaces = leader?.epoch ?? -1
            lastSeen.withLock { $0 = .now }  // the claim has a lease timeout to be read back before another
            let offset = try await write(LeaseRecord(kind: .claim, node: node, epoch: replaces))
            logger.notice("trainer lease claimed", metadata: ["replaces": "\(replaces)", "claim": "\(offset)", "previous": "\(leader?.node ?? "none")"])
            return lastHeartbeat
        }
    }

    private func write(_ record: LeaseRecord) async throws -> Int64 {
        let value = Array(try JSONEncoder().encode(record))
        return try await Task.detached { try self.producer.sendAndWait(topic: self.topic, key: Array(record.node.utf8), value: value, partition: 0) }.value
    }
}
