/// This node's part in a cluster, for the admin status and the status page; and whether it may change
/// what it serves (only the train node and a standalone daemon may: a serve node follows the models topic).
struct ClusterView: Sendable {
    let role: ClusterRole
    let broadcast: ModelBroadcast?
    let follower: ModelFollower?

    static let standalone = ClusterView(role: .standalone, broadcast: nil, follower: nil)

    /// `GET /v1/admin/status`'s `cluster`.
    struct Status: Encodable, Sendable {
        let role: ClusterRole
        /// A train node: what it has sent to the models topic.
        let publishing: ModelBroadcast.Status?
        /// A serve node: how far it follows the models topic.
        let following: ModelFollower.Status?
    }

    var status: Status { Status(role: role, publishing: broadcast?.status, following: follower?.status) }

    /// Why this node refuses to change what it serves, if it does.
    var refusal: String? {
        guard let follower else { return nil }
        return "this is a serve node (cluster.role serve): it serves what the train node publishes on \(follower.topic); promote, roll back and canary there"
    }
}
