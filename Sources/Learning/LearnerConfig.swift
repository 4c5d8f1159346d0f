import Alignment
import Models
import Store

/// How the background learner trains, publishes and aligns. Defaults suit the 2-core reference machine.
public struct LearnerConfig: Sendable {
    /// Generator size and architecture (`Seq2Seq.Config.preset`: tiny, small, base; lazy or
    /// encoder-decoder); the vocabulary comes from the codebook.
    public var generator = Seq2Seq.Config.preset("small", architecture: .lazy)!
    /// Lazy generator only: item-ID rows in its context for the first this many items in the codebook's
    /// coding order (new items take the next rows as they are coded; 0: items are their codes alone).
    public var itemIDs = 20_000
    /// History items the encoder reads (the paper: 256).
    public var maxHistory = 50
    /// Items per session, trained and served (the paper: 5).
    public var sessionItems = 5
    /// Sessions per generator step.
    public var batch = 32
    public var learningRate: Float = 1e-3
    /// Catalog items with embeddings needed before the first codebook is built.
    public var minimumItems = 50
    /// Training sessions needed before the first step.
    public var minimumSessions = 200
    /// Examples kept for replay, and the share of each batch drawn from the newest `freshWindow` of them.
    public var replayCapacity = 100_000
    public var freshShare = 0.5
    public var freshWindow = 2_000
    /// A reward-model step after every `rewardEvery` generator steps.
    public var rewardEvery = 2
    /// Reward-model item table rows (items beyond share an unknown-item vector).
    public var rewardItems = 100_000
    /// A new generator version is published and served every this many steps.
    public var publishEverySteps = 200
    /// The trainer's state (weights, moments, step) is written every this many steps and at shutdown.
    public var checkpointEverySteps = 200
    public var alignment = AlignmentSettings()
    public var seed: UInt64 = 1
    public init() {}
}

/// One alignment round's size and its promotion gate.
public struct AlignmentSettings: Sendable {
    /// Share of known users whose histories make preference pairs each round (the paper: about 1%),
    /// and at least this many of them.
    public var userShare = 0.01
    public var minimumUsers = 32
    /// Candidates beam-searched per user (the paper: 128).
    public var candidates = 32
    /// Training steps per round, and the preference objective (the paper's DPO by default).
    public var steps = 40
    public var objective = PreferenceLoss.dpo(beta: 0.1)
    /// Held-out users on whom candidate and current model are compared, and the beam used there.
    public var evaluationUsers = 100
    public var evaluationBeam = 16
    /// The candidate is promoted only if its mean reward on the held-out users beats the current model's
    /// by at least this relative margin.
    public var minimumGain = 0.0
    /// Seconds between scheduled rounds; 0: only when an operator asks.
    public var intervalSeconds = 0.0
    /// Where the round's preference pairs come from: beam-searched candidates scored by the reward model
    /// (OneRec's), or pairs of the users' own logged sessions, the one watched clearly longer chosen
    /// (`RealSessionPairs`).
    public var pairs = PairSource.rewardModel
    public enum PairSource: String, Sendable, CaseIterable {
        case rewardModel = "reward-model", realSessions = "real-sessions"
    }
    /// A candidate that passes the reward gate is canaried with these settings (served to a share of users
    /// until their sessions decide it, `Canary`) instead of promoted at once; nil: promoted at once.
    public var canary: Canary.Settings?
    public init() {}
}
