import Foundation

/// A finished alignment round: what it did, how candidate and current model compared, the outcome.
public struct AlignmentRound: Codable, Sendable, Equatable {
    public var id: Int
    /// "operator" or "schedule".
    public var reason: String
    public var startedAt: Double
    public var seconds: Double
    public var users: Int
    public var pairs: Int
    /// Mean reward-model reward of the top generated session on the held-out users, before and after.
    public var rewardBefore: Double
    public var rewardAfter: Double
    /// True expected watch time (s) of that session, when the daemon runs on the simulator.
    public var trueWatchBefore: Double?
    public var trueWatchAfter: Double?
    public var promoted: Bool
    /// The version the candidate was published as (nil when nothing was published).
    public var version: UInt32?
    /// Where the pairs came from: "reward-model" or "real-sessions" (nil in rounds recorded before the
    /// choice existed: the reward model's).
    public var pairSource: String?
    public var note: String

    /// A round that has started: measured before, nothing trained, promoted or published yet.
    public init(id: Int, reason: String, startedAt: Double, users: Int, pairs: Int, rewardBefore: Double, trueWatchBefore: Double?) {
        (self.id, self.reason, self.startedAt, self.seconds, self.users, self.pairs) = (id, reason, startedAt, 0, users, pairs)
        (self.rewardBefore, self.rewardAfter, self.trueWatchBefore, self.trueWatchAfter) = (rewardBefore, rewardBefore, trueWatchBefore, nil)
        (self.promoted, self.version, self.note) = (false, nil, "")
    }
}
