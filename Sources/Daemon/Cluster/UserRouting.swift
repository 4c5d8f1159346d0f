import Ingest
import Kafka

/// Which node answers for a user, in a cluster: the user's partition of the interactions topic (by the
/// producers' partitioner, `cluster.partitioner`) and the member table's node answering for it.
struct UserRouting: Sendable {
    enum Route: Equatable {
        /// This node knows the user's history.
        case local
        /// The node that does, one hop away.
        case forward(node: String, url: String)
        /// No node that knows the user can answer now: popular items, counted under `reason`.
        case fallback(reason: String)
    }

    let node: String
    let members: ClusterMembers
    /// The interactions topic, and how its producers place user keys.
    let topic: String
    let partitioner: KeyPartitioner
    /// A serve node's partitions; nil on a train node, which reads every event.
    let ownership: PartitionOwnership?

    /// Where the request for `user` goes (here while the partition count is unknown). A request forwarded
    /// here already goes no further.
    func route(user: UInt64, forwarded: Bool) -> Route {
        let table = members.table
        guard table.partitionCount > 0 else { return .local }
        let partition = partitioner.partition(of: Array("\(user)".utf8), partitions: table.partitionCount)
        let knows = ownership.map { $0.ready.contains(partition) } ?? true
        guard let answering = table.answering(partition) else { return knows ? .local : .fallback(reason: "no_owner") }
        if answering == node || forwarded {
            return knows ? .local : .fallback(reason: forwarded ? "forwarded_not_ready" : "rebuilding")
        }
        guard let url = table.live[answering]?.url else { return .fallback(reason: "no_owner") }
        return .forward(node: answering, url: url)
    }
}
