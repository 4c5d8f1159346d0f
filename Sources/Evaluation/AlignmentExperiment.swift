import Alignment
import Engine
import Events
import Foundation
import Generator
import Models
import SemanticIDs
import Simulator

/// `onerec align report`: OneRec's Table 1 on the simulator, with the column the paper could not have.
/// A log is written under a logging policy; codes come from the items' content embeddings; the
/// generator learns from the logged sessions and the reward model from their outcomes; then each
/// preference objective runs `rounds` of alignment from the same base generator. For held-out users each
/// model generates sessions (trie-constrained beam search); the table gives the reward model's tower
/// scores (mean over the beam's sessions, and the best one, averaged over users), the true expected
/// watch time of the top session from the simulator, and invalid or repeated items generated (always 0).
public struct AlignmentExperiment {
    public struct Config: Sendable {
        public var world = World.Config()
        public var sessionsPerUser = 10
        public var generator = Seq2Seq.Config.preset("tiny")!
        public var generatorSteps = 1500
        public var rewardSteps = 1500
        public var rounds = 2
        /// Users sampled per round (r_DPO), and candidates per user.
        public var usersPerRound = 100
        public var candidates = 32
        public var alignment = PreferenceAlignment.Config()
        public var objectives: [PreferenceLoss] = [.dpo(beta: 0.1), .ipo(beta: 0.1), .cdpo(beta: 0.1, epsilon: 0.1),
                                                   .rdpo(beta: 0.1, epsilon: 0.1), .cpo(beta: 0.1), .simpo(beta: 2, gamma: 0.5),
                                                   .sdpo(beta: 0.1)]
        public var evaluationUsers = 200
        public var evaluationBeam = 16
        public init() {}
    }

    public struct Row: Sendable {
        public let name: String
        /// Per tower (swt, vtr, wtr, ltr): mean and max reward-model score.
        public let mean: [Double], max: [Double]
        /// True expected watch time (s) of the top session; invalid or repeated items.
        public let trueWatchSeconds: Double
        public let invalid: Int
    }

    public let config: Config
    public init(config: Config) { self.config = config }

    public func run(log say: (String) -> Void) throws -> [Row] {
        // The log.
        let world = World(config: config.world)
        var sim = SimulationLog(world: world)
        sim.requestsPerUser = config.sessionsPerUser
        var policy = PopularityPolicy(items: config.world.items, exploration: 0.5, seed: config.world.seed)
        let recording = sim.record(policy: &policy)
        let (events, embeddings) = (recording.interactions, recording.embeddings)
        let examples = RewardExample.from(events, sessionLength: config.world.sessionItems)
        say("world: \(config.world.users) users, \(config.world.items) items; log of \(events.count) events in \(examples.count) sessions")

        // Codes from content embeddings.
        let ids = embeddings.keys.sorted()
        let (vectors, _) = ItemVectors.validated(ids.map { (id: $0, vector: embeddings[$0]!) }, dimension: config.world.embeddingDimension)
        let (quantizer, training) = ResidualQuantizer.train(vectors, config: ResidualQuantizer.Config())
        let tokenizer = ItemTokenizer(codebook: try Codebook(version: 1, vectors: vectors, quantizer: quantizer, training: training))

        // Held-out users for evaluation; the rest train.
        let evalUsers = Set((0..<config.evaluationUsers).map { UInt64($0 * max(1, config.world.users / config.evaluationUsers)) })
        let trainSessions = examples.filter { !evalUsers.contains($0.user) && !$0.history.isEmpty }
        let realSessions = trainSessions.map { SessionExample(history: $0.history, session: $0.session) }

        var mc = config.generator
        mc.vocabulary = tokenizer.vocabulary
        var oc = AdamW.Config()
        oc.learningRate = 1e-3
        let base = GeneratorTrainer(model: Seq2Seq(config: mc, seed: 1), tokenizer: tokenizer, maxHistory: 20,
                                    sessionItems: config.world.sessionItems, optimizer: oc)
        var rng = SplitMix64(seed: 7)
        for step in 0..<config.generatorSteps {
            let (loss, _) = base.step((0..<32).map { _ in realSessions[Int(rng.next() % UInt64(realSessions.count))] }, seed: UInt64(step))
            if (step + 1) % 500 == 0 { say(String(format: "  generator step %d/%d  loss %.3f", step + 1, config.generatorSteps, loss)) }
        }

        var rc = RewardModel.Config()
        rc.items = config.world.items
        let reward = RewardModel(config: rc, seed: 2)
        reward.initializeItems(from: embeddings)
        reward.fit(examples.filter { !evalUsers.contains($0.user) }, steps: config.rewardSteps, seed: 2)

        // Evaluation histories: each held-out user's positives in the log.
        var positives: [UInt64: [UInt64]] = [:]
        for e in events where evalUsers.contains(e.userID) && e.isPositive { positives[e.userID, default: []].append(e.itemID) }
        let evaluation = evalUsers.sorted().map { (user: $0, history: positives[$0] ?? []) }

        var rows = [evaluate("base generator", base.model, tokenizer, reward, world, evaluation)]
        say(describe(rows[0]))
        let trainHistories = trainSessions.map(\.history)
        for objective in config.objectives {
            let policy = GeneratorTrainer(model: base.model.copy(), tokenizer: tokenizer, maxHistory: 20,
                                          sessionItems: config.world.sessionItems, optimizer: oc)
            var ac = config.alignment
            ac.objective = objective
            ac.candidates = config.candidates
            let alignment = PreferenceAlignment(trainer: policy, reward: reward, config: ac)
            for r in 0..<config.rounds {
                let sample = (0..<config.usersPerRound).map { _ in trainHistories[Int(rng.next() % UInt64(trainHistories.count))] }
                let pairs = alignment.pairs(histories: sample)
                let stats = alignment.train(pairs: pairs, realSessions: realSessions)
                // Gain per round: each round's model evaluated on the held-out users.
                let row = evaluate("+ \(objective.name) x\(r + 1)", policy.model, tokenizer, reward, world, evaluation)
                say(String(format: "  %@ round %d: %d pairs, preference loss %.3f -> %.3f, reward accuracy %.2f; max swt %.4f, true watch %.1f s",
                           objective.name, r + 1, pairs.count, stats.preferenceLoss.first ?? 0, stats.preferenceLoss.last ?? 0,
                           stats.accuracy.last ?? 0, row.max[0], row.trueWatchSeconds))
                if r == config.rounds - 1 { rows.append(row) }
            }
        }
        return rows
    }

    private func evaluate(_ name: String, _ model: Seq2Seq, _ tokenizer: ItemTokenizer, _ reward: RewardModel, _ world: World,
                          _ users: [(user: UInt64, history: [UInt64])]) -> Row {
        let decoder = SessionDecoder(model: model, weights: model.decodingWeights(), tokenizer: tokenizer)
        var mean = [Double](repeating: 0, count: 4), max = [Double](repeating: 0, count: 4)
        var watch = 0.0
        var invalid = 0
        for (user, history) in users {
            let tokens = tokenizer.historyTokens(history[...], maxItems: 20)
            let sessions = decoder.generate(history: tokens, items: config.world.sessionItems, beam: config.evaluationBeam, excluded: Set(history)).sessions
            for s in sessions where Set(s.items).count != s.items.count || s.items.contains(where: { tokenizer.codebook.code(of: $0) == nil }) { invalid += 1 }
            guard let top = sessions.first else { continue }
            let scores = reward.predict(RewardModel.Batch(histories: sessions.map { _ in history }, sessions: sessions.map(\.items)))
            for k in 0..<4 {
                mean[k] += scores.map { Double($0[k]) }.reduce(0, +) / Double(scores.count) / Double(users.count)
                max[k] += Double(scores.map { $0[k] }.max()!) / Double(users.count)
            }
            watch += world.utility(user: Int(user), session: top.items).watchTimeMs / 1000 / Double(users.count)
        }
        return Row(name: name, mean: mean, max: max, trueWatchSeconds: watch, invalid: invalid)
    }

    public func describe(_ r: Row) -> String {
        r.name.padding(toLength: 22, withPad: " ", startingAt: 0)
            + (0..<4).map { String(format: "%.4f %.4f  ", r.mean[$0], r.max[$0]) }.joined()
            + String(format: "%7.1f s   %d", r.trueWatchSeconds, r.invalid)
    }

    public static let header = "model".padding(toLength: 22, withPad: " ", startingAt: 0)
        + "swt mean/max    vtr mean/max    wtr mean/max    ltr mean/max    true watch  invalid"
}
