import Foundation

/// One record of the lease topic.
public struct LeaseRecord: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// "I lead from here on", valid only if `replaces` is the epoch leading at this point of the log
        /// (-1: nobody leads yet).
        case claim
        /// The leader of `epoch` is alive.
        case heartbeat
        /// The leader of `epoch` steps down (a graceful shutdown): the next claim may follow at once.
        case release
    }

    public var kind: Kind
    public var node: String
    /// A claim: the epoch it replaces; a heartbeat or release: the writer's epoch.
    public var epoch: Int64
    /// The writer's clock (seconds since 1970), for people reading the topic; no decision uses it.
    public var at: Double

    public init(kind: Kind, node: String, epoch: Int64, at: Double = Date().timeIntervalSince1970) {
        (self.kind, self.node, self.epoch, self.at) = (kind, node, epoch, at)
    }
}

/// The lease as the lease topic's records decide it. The topic has one partition, so every reader sees
/// the same records in the same order and, applying these rules, agrees on who leads: a claim is
/// accepted only if it names the epoch leading at its place in the log, and its offset becomes the new
/// epoch (larger than every earlier one). Of two standbys claiming against the same expired leader, the
/// first in the log wins and the second names an epoch that no longer leads. Whether a leader has
/// expired is each reader's own judgement (no heartbeat for the lease timeout on its own clock); a wrong
/// judgement costs a leadership change, never two leaders in one epoch.
public struct LeaseLog: Sendable {
    /// The leading node and its epoch, as of the last record applied.
    public private(set) var leader: (node: String, epoch: Int64)?
    /// Whether the leader stepped down (`release`).
    public private(set) var released = false

    public init() {}

    /// What one record did.
    public enum Outcome: Sendable, Equatable {
        case accepted(epoch: Int64)
        case rejected
        /// A heartbeat or release of the current leader.
        case leaderAlive
        case ignored
    }

    /// Applies the record at `offset`.
    public mutating func apply(_ record: LeaseRecord, at offset: Int64) -> Outcome {
        switch record.kind {
        case .claim:
            guard record.epoch == (leader?.epoch ?? -1) else { return .rejected }
            (leader, released) = ((record.node, offset), false)
            return .accepted(epoch: offset)
        case .heartbeat, .release:
            guard let leader, record.epoch == leader.epoch, record.node == leader.node else { return .ignored }
            if record.kind == .release { released = true }
            return .leaderAlive
        }
    }
}
