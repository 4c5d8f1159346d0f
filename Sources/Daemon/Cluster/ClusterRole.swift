/// What a daemon does in a cluster (`cluster.role`).
public enum ClusterRole: String, Sendable, Codable {
    /// One process ingests, trains, aligns and serves (the default).
    case standalone
    /// Ingests every event, trains, aligns and publishes versions and promotions to the models topic.
    case train
    /// Ingests the partitions of the events the members topic gives it and answers for their users,
    /// serving the versions the train node publishes; runs no trainer, and forwards promotions to the
    /// leading train node.
    case serve
}
