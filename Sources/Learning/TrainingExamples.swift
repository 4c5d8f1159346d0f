import Alignment
import Engine
import Events
import Generator
import SemanticIDs

/// What the feed's sessions become, kept for replay: each completed session is a reward-model example
/// (its logged outcome) and, when it has positives and the user a history, a generator example (that
/// history, then the session's positives). Batches mix the freshest examples with older ones.
struct TrainingExamples {
    private let sessionItems: Int, freshShare: Double, freshWindow: Int
    private(set) var sessions: ReplayBuffer<SessionExample>
    private(set) var outcomes: ReplayBuffer<RewardExample>
    /// Every draw of the learner (batches, alignment's users) comes from here, so a run is reproducible.
    var rng: SplitMix64

    init(_ config: LearnerConfig) {
        (sessionItems, freshShare, freshWindow) = (config.sessionItems, config.freshShare, config.freshWindow)
        sessions = ReplayBuffer(capacity: config.replayCapacity)
        outcomes = ReplayBuffer(capacity: config.replayCapacity)
        rng = SplitMix64(seed: config.seed)
    }

    mutating func add(_ session: LoggedSession) {
        let shown = Array(session.events.prefix(sessionItems))
        let target = session.events.filter(\.isPositive).map(\.itemID)
        outcomes.append(RewardExample(user: session.user, history: session.history, session: shown.map(\.itemID),
                                      labels: RewardExample.labels(of: shown), positives: target, historyGaps: session.historyGaps))
        if !target.isEmpty && !session.history.isEmpty {
            sessions.append(SessionExample(history: session.history, session: target, gaps: session.historyGaps))
        }
    }

    /// The logged sessions kept, oldest first (what real-session preference pairs are made of).
    var loggedSessions: [RewardExample] { (0..<outcomes.count).reversed().map { outcomes.newest($0) } }

    /// `count` generator examples restricted to the items `tokenizer` has codes for (an item without an
    /// embedding has none), dropping those left without history or target.
    mutating func sessionBatch(_ count: Int, codedBy tokenizer: ItemTokenizer) -> [SessionExample] {
        sessions.sample(count, freshShare: freshShare, window: freshWindow, rng: &rng).compactMap { e in
            let (history, gaps) = tokenizer.coded(e.history, gaps: e.gaps)
            let session = e.session.filter { tokenizer.codebook.code(of: $0) != nil }
            return history.isEmpty || session.isEmpty ? nil : SessionExample(history: history, session: session, gaps: gaps)
        }
    }

    mutating func outcomeBatch(_ count: Int) -> [RewardExample] {
        outcomes.sample(count, freshShare: freshShare, window: freshWindow, rng: &rng)
    }
}
