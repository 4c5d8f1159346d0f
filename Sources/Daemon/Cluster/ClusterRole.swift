/// What a daemon does in a cluster (`cluster.role`).
public enum ClusterRole: String, Sendable, Codable {
    /// One process ingests, trains, aligns and serves (the default).
    case standalone
    /// Ingests every event, trains, aligns and publishes versions and promotions to the models topic.
    case train
    /// Ingests its consumer group's share of the events and serves the versions the train node
    /// publishes; runs no trainer, and refuses promotions (they are made on the train node).
    case serve
}
