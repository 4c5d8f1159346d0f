import Foundation

/// One record of the members topic, keyed by its node: what the node is, where it answers, and which of
/// the interactions topic's partitions it answers for.
public struct MemberRecord: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// The node is alive (written every third of the member timeout).
        case heartbeat
        /// The node stops (a graceful shutdown): its partitions move at once.
        case leave
    }

    public enum Role: String, Codable, Sendable {
        /// Owns partitions of the interactions topic and answers for their users.
        case serve
        /// Reads every event and trains; owns no partition.
        case train
    }

    public var kind: Kind
    public var node: String
    public var role: Role
    /// Where the node's HTTP API answers (`cluster.advertisedUrl`).
    public var url: String
    /// The interactions topic's partition count as the node sees it.
    public var partitions: Int32
    /// Partitions whose users the node answers for: it reads them and has stored them up to their end.
    public var ready: [Int32]
    /// The model version it serves (nil: popular items only).
    public var servingVersion: UInt32?
    /// Messages of the events topics its ingest has not read yet (nil before its first fetch).
    public var lag: Int64?
    /// The writer's clock (seconds since 1970), for people reading the topic; liveness is judged by the
    /// records' Kafka timestamps.
    public var at: Double

    public init(kind: Kind, node: String, role: Role, url: String, partitions: Int32, ready: [Int32], servingVersion: UInt32?,
                lag: Int64? = nil, at: Double = Date().timeIntervalSince1970) {
        (self.kind, self.node, self.role, self.url, self.partitions, self.ready, self.servingVersion, self.lag, self.at) =
            (kind, node, role, url, partitions, ready, servingVersion, lag, at)
    }
}
