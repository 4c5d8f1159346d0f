import Ingest
import Kafka

/// `GET /v1/cluster`: the nodes, where each answers, and which node answers for each partition of the
/// interactions topic, so that a feed backend can send each user's requests straight to it (the user's
/// partition by `partitioner` over `partitions`; the same as the producers').
struct ClusterMap: Encodable, Sendable {
    struct Node: Encodable, Sendable {
        let node: String
        let role: MemberRecord.Role
        let url: String
        let servingVersion: UInt32?
        /// Messages of the events topics its ingest has not read yet.
        let lag: Int64?
        /// The partitions it owns, and those it has ready (read and stored up to their end).
        let owns: [Int32]
        let ready: [Int32]
        /// How long before the newest record of the members topic its last heartbeat was.
        let silentSeconds: Double
    }

    struct Partition: Encodable, Sendable {
        let partition: Int32
        let owner: String
        /// The owner once it has the partition ready; until then the node handing it over, if one is live.
        let answering: String
    }

    /// The node that answered this request.
    let node: String
    let topic: String
    let partitioner: String
    let partitions: Int32
    /// The leading train node and its epoch, as the models topic announced them.
    let leader: String?
    let epoch: Int64?
    let nodes: [Node]
    let owners: [Partition]

    init(routing: UserRouting, follower: ModelFollower?) {
        let table = routing.members.table
        let owned = Dictionary(grouping: table.owners.keys, by: { table.owners[$0]! })
        nodes = table.live.values.sorted { ($0.role.rawValue, $0.node) < ($1.role.rawValue, $1.node) }.map { r in
            Node(node: r.node, role: r.role, url: r.url, servingVersion: r.servingVersion, lag: r.lag, owns: (owned[r.node] ?? []).sorted(), ready: r.ready,
                 silentSeconds: Double(table.clockMs - (table.newest[r.node]?.seenMs ?? table.clockMs)) / 1000)
        }
        owners = table.owners.keys.sorted().map { Partition(partition: $0, owner: table.owners[$0]!, answering: table.answering($0) ?? table.owners[$0]!) }
        (node, topic, partitioner, partitions) = (routing.node, routing.topic, routing.partitioner.rawValue, table.partitionCount)
        (leader, epoch) = (follower?.status.leader, follower?.status.epoch)
    }
}
