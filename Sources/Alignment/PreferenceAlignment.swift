import Engine
import Generator
import Models

/// One preference pair of an alignment round, kept for audit.
public struct PreferencePair: Sendable, Codable {
    public let round: Int
    public let user: UInt64
    public let history: [UInt64]
    public let chosen: [UInt64], rejected: [UInt64]
    public let chosenReward: Float, rejectedReward: Float
    /// The next-worst candidates after `rejected`, worst first: S-DPO's further negatives.
    public let moreRejected: [[UInt64]]
    /// Each history item's `TimeGap` bucket, for a generator with time gaps (nil in pairs stored before them).
    public var historyGaps: [Int32]? = nil
}

/// OneRec's iterative preference alignment: each round, for a sample of users, beam search proposes
/// candidate sessions, the reward model scores them, the best becomes `chosen` and the worst `rejected`
/// (pairs whose reward margin is below a threshold are skipped); the generator then trains on
/// next-token loss over real sessions plus lambda times a preference loss against the model as it was
/// at the start of the round (frozen); the next round starts from the result.
public final class PreferenceAlignment {
    public struct Config: Sendable {
        /// Candidate sessions per user (the paper: 128).
        public var candidates = 128
        /// The preference objective. Default DPO with beta 0.1.
        public var objective = PreferenceLoss.dpo(beta: 0.1)
        /// Weight of the preference loss next to next-token loss.
        public var lambda: Float = 1
        /// Pairs whose chosen and rejected rewards differ by less are skipped.
        public var minimumMargin: Float = 0
        /// Rejected sessions per pair for S-DPO (the worst ones); the other objectives use one.
        public var sdpoRejected = 4
        /// Optimisation steps per round, and pairs and real sessions per step.
        public var steps = 50
        public var batch = 16
        public var seed: UInt64 = 1
        public init() {}
    }

    public let trainer: GeneratorTrainer
    public let reward: RewardModel
    public let weights: RewardWeights
    public var config: Config
    public private(set) var round = 0

    public init(trainer: GeneratorTrainer, reward: RewardModel, weights: RewardWeights = RewardWeights(), config: Config = Config()) {
        self.trainer = trainer
        self.reward = reward
        self.weights = weights
        self.config = config
    }

    /// Beam-searched candidates for each user's history (and its gap buckets, for a generator with time
    /// gaps), scored: (chosen, rejected) per user whose margin is enough.
    public func pairs(users: [(user: UInt64, history: [UInt64], gaps: [Int32]?)]) -> [PreferencePair] {
        let model = trainer.model
        let decoder = SessionDecoder(model: model, weights: model.decodingWeights(), tokenizer: trainer.tokenizer)
        var out: [PreferencePair] = []
        for (user, history, gaps) in users {
            let context = trainer.tokenizer.historyContext(history, gaps: gaps, maxItems: trainer.maxHistory)
            let sessions = decoder.generate(history: context.tokens, gaps: context.gaps, items: trainer.sessionItems, beam: config.candidates,
                                            excluded: Set(history)).sessions
            guard sessions.count >= 2 else { continue }
            let scores = reward.predict(RewardModel.Batch(histories: sessions.map { _ in history }, sessions: sessions.map(\.items)))
                .map(weights.reward)
            let ascending = scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] < scores[$1] : $0 < $1 }
            let (best, worst) = (ascending.last!, ascending[0])
            guard scores[best] - scores[worst] >= config.minimumMargin, best != worst else { continue }
            let more = ascending.dropFirst().prefix(config.sdpoRejected - 1).filter { $0 != best }.map { sessions[$0].items }
            out.append(PreferencePair(round: round, user: user, history: history, chosen: sessions[best].items, rejected: sessions[worst].items,
                                      chosenReward: scores[best], rejectedReward: scores[worst], moreRejected: more, historyGaps: gaps))
        }
        return out
    }

    public struct RoundStatistics: Sendable {
        public let pairs: Int
        /// Per step: the preference loss, reward accuracy and margin (implied by the objective).
        public let preferenceLoss: [Float], accuracy: [Float], margin: [Float]
        /// Per step: mean log π(chosen) and log π(rejected) under the policy (the worst rejected for S-DPO).
        public let chosenLogProbability: [Float], rejectedLogProbability: [Float]
        public let nextTokenLoss: [Float]
    }

    /// Trains one round on `pairs` and real sessions, against a frozen copy of the model as it is now.
    public func train(pairs: [PreferencePair], realSessions: [SessionExample]) -> RoundStatistics {
        precondition(!pairs.isEmpty && !realSessions.isEmpty, "an alignment round needs pairs and real sessions")
        let reference = trainer.model.copy()
        var rng = SplitMix64(seed: config.seed &+ UInt64(round) &* 1_000_003)
        var stats = (loss: [Float](), accuracy: [Float](), margin: [Float](), ntp: [Float](), chosen: [Float](), rejected: [Float]())
        for step in 0..<config.steps {
            let chosenPairs = (0..<config.batch).map { _ in pairs[Int(rng.next() % UInt64(pairs.count))] }
            let real = (0..<config.batch).map { _ in realSessions[Int(rng.next() % UInt64(realSessions.count))] }
            // S-DPO compares each chosen session with k rejected ones (the worst first, the worst repeated
            // where a pair has fewer); the other objectives with the worst alone.
            let k: Int
            if case .sdpo = config.objective { k = config.sdpoRejected } else { k = 1 }
            let rejectedSessions = chosenPairs.flatMap { p -> [SessionExample] in
                let negatives = [p.rejected] + p.moreRejected
                return (0..<k).map { SessionExample(history: p.history, session: negatives[min($0, negatives.count - 1)], gaps: p.historyGaps) }
            }
            // Chosen sessions first, then the rejected ones (pair by pair), in one batch.
            let both = trainer.batch(chosenPairs.map { SessionExample(history: $0.history, session: $0.chosen, gaps: $0.historyGaps) } + rejectedSessions)
            let referenceLogp = reference.sequenceLogProbabilities(Graph(training: false), both).values
            let g = Graph(seed: config.seed &+ UInt64(round * 100_000 + step))
            let logp = trainer.model.sequenceLogProbabilities(g, both)
            let b = config.batch
            let out = g.preferenceLoss(config.objective, PreferenceBatch(
                policyChosen: g.slice(logp, axis: 0, 0..<b), policyRejected: g.reshape(g.slice(logp, axis: 0, b..<(b + b * k)), [b, k]),
                referenceChosen: Array(referenceLogp[0..<b]), referenceRejected: Array(referenceLogp[b..<(b + b * k)])))
            let (ntp, _) = trainer.model.loss(g, trainer.batch(real))
            g.backward(g.add(ntp, g.scale(out.loss, config.lambda)))
            trainer.optimizer.update()
            trainer.optimizer.zeroGradients()
            stats.loss.append(out.loss[0])
            stats.accuracy.append(out.accuracy)
            stats.margin.append(out.margin)
            stats.ntp.append(ntp[0])
            let values = logp.values
            stats.chosen.append(values[0..<b].reduce(0, +) / Float(b))
            stats.rejected.append(stride(from: b, to: b + b * k, by: k).reduce(0) { $0 + values[$1] } / Float(b))
        }
        round += 1
        return RoundStatistics(pairs: pairs.count, preferenceLoss: stats.loss, accuracy: stats.accuracy, margin: stats.margin,
                               chosenLogProbability: stats.chosen, rejectedLogProbability: stats.rejected, nextTokenLoss: stats.ntp)
    }
}
