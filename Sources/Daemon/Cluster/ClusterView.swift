import Ingest

/// This node's part in a cluster, for the admin status and the status page; and whether it may change
/// what it serves and run alignment rounds (a standalone daemon and the leading train node may; a serve
/// node and a standby train node follow the models topic).
struct ClusterView: Sendable {
    let role: ClusterRole
    let leadership: TrainerLeadership?
    let follower: ModelFollower?
    /// A train node's membership of the lease group.
    let lease: TrainerLease?
    /// Where each user's requests go (every node of a cluster).
    let routing: UserRouting?

    static let standalone = ClusterView(role: .standalone, leadership: nil, follower: nil, lease: nil, routing: nil)

    /// `GET /v1/admin/status`'s `cluster`.
    struct Status: Encodable, Sendable {
        let role: ClusterRole
        /// A train node: whether it leads, and its epoch while it does.
        let leading: Bool?
        let epoch: Int64?
        /// The leader: what it has sent to the models topic.
        let publishing: ModelBroadcast.Status?
        /// A serve node or a standby: how far it follows the models topic.
        let following: ModelFollower.Status?
        /// A serve node: the interactions partitions it reads, those of them it has ready, and the next
        /// offset its store holds for each it reads (by partition number).
        let reading: [Int32]?
        let ready: [Int32]?
        let storedOffsets: [String: Int64]?
    }

    var status: Status {
        let leading = leadership?.current
        let ownership = routing?.ownership
        return Status(role: role, leading: role == .train ? leading != nil : nil, epoch: leading?.epoch, publishing: leading?.broadcast.status,
                      following: leading == nil ? follower?.status : nil, reading: ownership?.reading.sorted(), ready: ownership?.ready.sorted(),
                      storedOffsets: ownership.map { Dictionary(uniqueKeysWithValues: $0.stored.map { ("\($0.key)", $0.value) }) })
    }

    /// Why this node does not change what it serves or align itself, if it does not (it forwards such
    /// requests to the leader: `forward`).
    var refusal: String? {
        guard let follower, leadership?.current == nil else { return nil }
        let leader = follower.status.leader.map { "; the leader is \($0)" } ?? ""
        if role == .serve {
            return "this is a serve node (cluster.role serve): it serves what the leading train node publishes on \(follower.topic)\(leader)"
        }
        return "this train node is a standby: it follows \(follower.topic) until it takes the trainer lease\(leader)"
    }

    /// Why canaries are refused, in a cluster: its serve nodes would have to split their users between the
    /// two versions, which they do not do yet.
    var canaryRefusal: String? {
        role == .standalone ? nil : "canaries run on a standalone daemon only: in a cluster the serve nodes do not split their users between versions yet"
    }
}
