import Alignment
import Generator
import Models
import Store

/// How the background learner trains, publishes and aligns. Defaults suit the 2-core reference machine.
public struct LearnerConfig: Sendable {
    /// Generator size and architecture (`Seq2Seq.Config.preset`: tiny, small, base; lazy or
    /// encoder-decoder); the vocabulary comes from the codebook. Default: the recipe's small lazy model.
    public var generator = GeneratorRecipe().model(preset: "small")!
    /// How a lazy generator trains with `sequences`: history, batch, schedule, weight average, levels
    /// (`eval`'s defaults).
    public var recipe = GeneratorRecipe()
    /// A lazy generator trains on whole sequences of users' positives with the recipe (`TrainingSequences`);
    /// otherwise (and always for an encoder-decoder) on sampled sessions at `learningRate`.
    public var sequences = true
    /// Where the codebook's item vectors come from (`CodebookSource`), and the positive interactions
    /// stored before a codebook from behaviour is built.
    public var codebook = CodebookSource.auto
    public var minimumPositives = 2_000
    /// When the codebook is rebuilt and how its successor generator takes over (`CodebookSuccessor`).
    public var rebuild = RebuildSettings()
    /// Items of each user's positives kept for sequence training.
    public var sequenceCap = 2_000
    /// Lazy generator only: item-ID rows in its context for the first this many items in the codebook's
    /// coding order (new items take the next rows as they are coded; 0: items are their codes alone).
    public var itemIDs = 20_000
    /// History items the generator reads (the paper: 256; the recipe's 200).
    public var maxHistory = GeneratorRecipe().maxHistory
    /// Items per session, trained and served (the paper: 5).
    public var sessionItems = 5
    /// Sessions per generator step.
    public var batch = 32
    public var learningRate: Float = 1e-3
    /// Catalog items with embeddings needed before the first codebook is built from content.
    public var minimumItems = 50
    /// Training sessions needed before the first step.
    public var minimumSessions = 200
    /// Examples kept for replay, and the share of each batch drawn from the newest `freshWindow` of them
    /// (sessions); with sequences, the share of each batch that is the newest windows of users whose new
    /// positives no batch has taken yet, at most `freshWindow` such users waiting (`TrainingSequences`).
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
    /// Share of arriving positives on which the serving model and popular items are tested before the
    /// learner reads them (`OnlineAccuracy`), and the event-time width of the curve's windows.
    public var onlineSampleShare = 0.02
    public var onlineWindowSeconds = 3_600.0
    /// The serving beam, which the online test ranks with as serving does.
    public var servingBeam = 16
    public var seed: UInt64 = 1
    public init() {}

    /// Whether the generator trains on whole sequences with the recipe.
    public var trainsSequences: Bool { sequences && generator.architecture == .lazy }
    /// Items of the generator's targets: the recipe's with sequences, else a session.
    public var targetItems: Int { trainsSequences ? recipe.targetItems : sessionItems }
}

/// Where the item vectors of a codebook come from.
public enum CodebookSource: String, Sendable, CaseIterable {
    /// Content embeddings where items carry them (at least `minimumItems`), behaviour otherwise.
    case auto
    /// PPMI + SVD of the stored positives (`BehaviourVectors`), as `eval` builds it.
    case behaviour
    /// The items' content embeddings.
    case content
    /// Both, concatenated, each scaled to unit norm.
    case both
}

/// Codebook rebuilds: the next version is built from the items' vectors as they are now (new items
/// included), a successor generator trains for it beside the serving one (every other step), and it takes
/// over once it beats the serving version on the same sampled positives of the online test.
public struct RebuildSettings: Sendable {
    /// A rebuild starts once this share of the newest positives (at least `minimumRecent` of them) is on
    /// items without a code; 0: never for this reason.
    public var uncodedShare = 0.05
    /// And every this many hours since the last build; 0: never for this reason.
    public var everyHours = 0.0
    /// Positives tested on both the successor and the serving version that decide the switch: the
    /// successor takes over when, on the newest this many, it has more hits in the top 10 by more than
    /// chance would give (`CodebookSuccessor.wins`).
    public var tests = 300
    /// A successor that has not taken over after this many of its steps is dropped (and the next rebuild
    /// waits for `minimumRecent` new positives).
    public var maximumSteps = 20_000
    public static let minimumRecent = 1_000
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
