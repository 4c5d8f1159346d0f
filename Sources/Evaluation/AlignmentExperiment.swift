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
/// generator and SASRec learn from the logged sessions and the reward model from their outcomes; then
/// each preference objective runs `rounds` of alignment from the same base generator. For held-out
/// users each model generates sessions; a row gives the reward model's tower scores (mean over the
/// sessions, and the best one, averaged over users), the true expected watch time of the top session
/// from the simulator, and invalid or repeated items generated (must be 0).
public struct AlignmentExperiment {
    public struct Config: Sendable {
        public var world: World.Config = {
            var w = World.Config()
            w.users = 10_000
            return w
        }()
        public var sessionsPerUser = 10
        public var generator = Seq2Seq.Config.preset("tiny")!
        public var generatorSteps = 1500
        public var rewardSteps = 3000
        public var sasrec: SASRec.Config = {
            var s = SASRec.Config()
            (s.width, s.maxLength) = (32, 50)
            return s
        }()
        public var sasrecEpochs = 10
        public var rounds = 3
        /// Share of the (training) users sampled per round: the paper's r_DPO.
        public var userShare = 0.01
        /// Candidate sessions beam-searched per sampled user.
        public var candidates = 32
        public var alignment = PreferenceAlignment.Config()
        public var objectives: [PreferenceLoss] = [.dpo(beta: 0.1), .ipo(beta: 0.1), .cdpo(beta: 0.1, epsilon: 0.1),
                                                   .rdpo(beta: 0.1, epsilon: 0.1), .cpo(beta: 0.1), .simpo(beta: 2, gamma: 0.5),
                                                   .sdpo(beta: 0.1)]
        /// Also DPO rounds on pairs of logged sessions (`RealSessionPairs`: of two consecutive sessions of a
        /// training user, the one watched clearly longer is chosen), each round on as many users' pairs as
        /// a reward-model round samples; the row "+ DPO, real sessions".
        public var realSessionPairs = true
        public var evaluationUsers = 200
        /// Sessions per held-out user: the generator's beam; SASRec's ranked list cut into as many sessions.
        public var evaluationBeam = 16
        public var seed: UInt64 = 1
        public init() {}
    }

    /// One model evaluated on the held-out users.
    public struct Row: Sendable {
        public let name: String
        /// Per tower (swt, vtr, wtr, ltr): mean and max reward-model score.
        public let mean: [Double], max: [Double]
        /// True expected watch time (s) of the top session; invalid or repeated items.
        public let trueWatchSeconds: Double
        public let invalid: Int
    }

    /// One alignment round of one objective.
    public struct Round: Sendable {
        public let objective: String
        public let round: Int
        public let pairs: Int
        /// True expected watch time (s) of the chosen and rejected sessions, and the share of pairs in
        /// which the chosen one is truly better: how far the reward model's choices can be trusted.
        public let chosenWatch: Double, rejectedWatch: Double, agreement: Double
        public let preferenceLoss: (first: Float, last: Float)
        public let accuracy: Float
        /// log π(chosen) - log π(rejected) under the policy at the round's first and last step.
        public let logProbabilityGap: (first: Float, last: Float)
        /// Wall time of the round (candidates, scoring and training), seconds.
        public let seconds: Double
        public let row: Row
    }

    public struct Result: Sendable {
        public let seed: UInt64
        public let rewardQuality: [TowerQuality]
        /// AUC of the simulator's exact expectations against the same held-out labels (swt: expected
        /// watch time, wtr: expected follows, ltr: expected likes; vtr has none): the ceiling.
        public let oracleAUC: [Double?]
        /// SASRec, the base generator, then each objective after its last round.
        public let rows: [Row]
        public let rounds: [Round]
    }

    public let config: Config
    public init(config: Config) { self.config = config }

    /// Everything the objectives share: the log, codes, base generator, reward model and held-out users.
    struct Setup {
        let world: World
        let tokenizer: ItemTokenizer
        let base: Seq2Seq
        let optimizer: AdamW.Config
        let reward: RewardModel
        /// Trained for the table, not for the ablation.
        let sasrec: SASRec?
        /// Held-out users with their logged positives (never sampled for pairs).
        let evaluation: [(user: UInt64, history: [UInt64])]
        /// Training users' (user, history before a logged session), sampled for pairs.
        let trainHistories: [(user: UInt64, history: [UInt64])]
        let realSessions: [SessionExample]
        let heldOut: [RewardExample]
        /// The logged sessions of the training users (what the reward model learned from).
        let trainExamples: [RewardExample]
    }

    func prepare(withSASRec: Bool, log say: (String) -> Void) throws -> Setup {
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

        // Held-out users (an evenly spaced sample) evaluate; the rest train.
        let stride = max(1, config.world.users / config.evaluationUsers)
        let heldOutUsers = Set((0..<config.evaluationUsers).map { UInt64($0 * stride) })
        // The generator learns, like the daemon's, from sessions with positives: earlier positives -> this session's.
        let trainSessions = examples.filter { !heldOutUsers.contains($0.user) && !$0.history.isEmpty }
        let realSessions = trainSessions.filter { !$0.positives.isEmpty }.map { SessionExample(history: $0.history, session: $0.positives) }

        var mc = config.generator
        mc.vocabulary = tokenizer.vocabulary
        var oc = AdamW.Config()
        oc.learningRate = 1e-3
        let base = GeneratorTrainer(model: Seq2Seq(config: mc, seed: config.seed), tokenizer: tokenizer, maxHistory: 20,
                                    sessionItems: config.world.sessionItems, optimizer: oc)
        Self.train(base, on: realSessions, steps: config.generatorSteps, seed: config.seed &+ 7, log: say)

        var rc = RewardModel.Config()
        rc.items = config.world.items
        let reward = RewardModel(config: rc, seed: config.seed &+ 1)
        reward.initializeItems(from: embeddings)
        let losses = reward.fit(examples.filter { !heldOutUsers.contains($0.user) }, steps: config.rewardSteps, seed: config.seed &+ 1)
        say(String(format: "  reward model: %d steps, loss %.3f -> %.3f", config.rewardSteps, mean(losses.prefix(100)), mean(losses.suffix(100))))

        // SASRec on the training users' positive items, in time order.
        var positives: [UInt64: [UInt64]] = [:]
        for e in events where e.isPositive { positives[e.userID, default: []].append(e.itemID) }
        var sasrec: SASRec?
        if withSASRec {
            var sc = config.sasrec
            sc.items = config.world.items
            let model = SASRec(config: sc, seed: config.seed)
            var st = SASRec.Training()
            (st.epochs, st.seed) = (config.sasrecEpochs, config.seed)
            model.train(on: positives.filter { !heldOutUsers.contains($0.key) }.sorted { $0.key < $1.key }.map { $0.value.map { Int32($0) } }, st) {
                say(String(format: "  sasrec epoch %d/%d  loss %.3f", $0 + 1, config.sasrecEpochs, $1))
                return true
            }
            sasrec = model
        }

        let evaluation = heldOutUsers.sorted().compactMap { u in positives[u].map { (user: u, history: $0) } }
        return Setup(world: world, tokenizer: tokenizer, base: base.model, optimizer: oc, reward: reward, sasrec: sasrec, evaluation: evaluation,
                     trainHistories: trainSessions.map { (user: $0.user, history: $0.history) }, realSessions: realSessions,
                     heldOut: examples.filter { heldOutUsers.contains($0.user) },
                     trainExamples: examples.filter { !heldOutUsers.contains($0.user) })
    }

    /// `steps` next-token steps of batches of 32 sessions drawn from `sessions` (step seeds count on from
    /// `firstStep`), the loss logged every 500.
    static func train(_ trainer: GeneratorTrainer, on sessions: [SessionExample], steps: Int, firstStep: Int = 0, seed: UInt64,
                      log say: (String) -> Void) {
        var rng = SplitMix64(seed: seed)
        for step in 0..<steps {
            let (loss, _) = trainer.step((0..<32).map { _ in sessions[Int(rng.next() % UInt64(sessions.count))] }, seed: UInt64(firstStep + step))
            if (step + 1) % 500 == 0 { say(String(format: "  generator step %d/%d  loss %.3f", step + 1, steps, loss)) }
        }
    }

    /// The table for this seed: reward-model quality, SASRec, the base generator and every objective's
    /// rounds.
    public func run(log say: (String) -> Void) throws -> Result {
        let setup = try prepare(withSASRec: true, log: say)
        let quality = setup.reward.quality(on: setup.heldOut)
        let oracle = oracleAUC(setup)
        var rows = [evaluate("SASRec", setup) { _, history in sasrecSessions(setup.sasrec!, history) },
                    evaluate("base generator", setup, model: setup.base)]
        rows.forEach { say(AlignmentTable.describe($0)) }
        var rounds: [Round] = []
        for objective in config.objectives {
            let aligned = align(setup, objective: objective, userShare: config.userShare, log: say)
            rounds += aligned
            rows.append(aligned.last!.row)
        }
        if config.realSessionPairs {
            let aligned = align(setup, objective: .dpo(beta: 0.1), userShare: config.userShare, realSessions: true, log: say)
            rounds += aligned
            rows.append(aligned.last!.row)
        }
        return Result(seed: config.seed, rewardQuality: quality, oracleAUC: oracle, rows: rows, rounds: rounds)
    }

    /// The r_DPO ablation: DPO rounds with each share of users sampled per round, from the same base.
    public func ablation(shares: [Double], log say: (String) -> Void) throws -> (base: Row, rounds: [Double: [Round]]) {
        let setup = try prepare(withSASRec: false, log: say)
        let base = evaluate("base generator", setup, model: setup.base)
        var out: [Double: [Round]] = [:]
        for share in shares { out[share] = align(setup, objective: .dpo(beta: 0.1), userShare: share, log: say) }
        return (base, out)
    }

    /// `rounds` rounds of `objective` from the base generator, each evaluated on the held-out users; the
    /// pairs are scored by `reward` (default: the setup's reward model). The aligned model is `policy`'s.
    /// With `realSessions`, the pairs are logged sessions' (`RealSessionPairs`), a fresh sample each round.
    func align(_ setup: Setup, objective: PreferenceLoss, userShare: Double, reward: RewardModel? = nil, policy: GeneratorTrainer? = nil,
               realSessions: Bool = false, log say: (String) -> Void) -> [Round] {
        let policy = policy ?? GeneratorTrainer(model: setup.base.copy(), tokenizer: setup.tokenizer, maxHistory: 20,
                                                sessionItems: config.world.sessionItems, optimizer: setup.optimizer)
        var ac = config.alignment
        ac.objective = objective
        ac.candidates = config.candidates
        ac.seed = config.seed
        let alignment = PreferenceAlignment(trainer: policy, reward: reward ?? setup.reward, config: ac)
        let users = max(1, Int((Double(config.world.users - config.evaluationUsers) * userShare).rounded()))
        var rng = SplitMix64(seed: config.seed &+ 11)
        var rounds: [Round] = []
        let logged = realSessions ? RealSessionPairs.make(from: setup.trainExamples) : []
        let name = realSessions ? "\(objective.name), real sessions" : objective.name
        for r in 0..<config.rounds {
            let start = Date()
            let pairs = realSessions
                ? (0..<min(users, logged.count)).map { _ in logged[Int(rng.next() % UInt64(logged.count))] }
                : alignment.pairs(users: (0..<users).map { _ in
                    let (user, history) = setup.trainHistories[Int(rng.next() % UInt64(setup.trainHistories.count))]
                    return (user, history, nil)
                })
            // Without pairs (every user's candidates scored alike) the round trains nothing.
            let stats = pairs.isEmpty ? nil : alignment.train(pairs: pairs, realSessions: setup.realSessions)
            let seconds = Date().timeIntervalSince(start)
            let truth = pairs.map { p in
                (setup.world.utility(user: Int(p.user), session: p.chosen).watchTimeMs / 1000, setup.world.utility(user: Int(p.user), session: p.rejected).watchTimeMs / 1000)
            }
            let row = evaluate("+ \(name) x\(r + 1)", setup, model: policy.model)
            let round = Round(objective: name, round: r + 1, pairs: pairs.count,
                              chosenWatch: mean(truth.map(\.0)), rejectedWatch: mean(truth.map(\.1)),
                              agreement: Double(truth.filter { $0.0 > $0.1 }.count) / Double(max(truth.count, 1)),
                              preferenceLoss: (stats?.preferenceLoss.first ?? 0, stats?.preferenceLoss.last ?? 0),
                              accuracy: stats?.accuracy.last ?? 0,
                              logProbabilityGap: ((stats?.chosenLogProbability.first ?? 0) - (stats?.rejectedLogProbability.first ?? 0),
                                                  (stats?.chosenLogProbability.last ?? 0) - (stats?.rejectedLogProbability.last ?? 0)),
                              seconds: seconds, row: row)
            say(String(format: "  %@ round %d: %d pairs (true watch chosen %.1f s, rejected %.1f s, truth agrees %.0f%%), preference loss %.3f -> %.3f, accuracy %.2f, log-prob gap %.1f -> %.1f; max swt %.4f, true watch %.1f s; %.1f s",
                       name, r + 1, pairs.count, round.chosenWatch, round.rejectedWatch, 100 * round.agreement,
                       round.preferenceLoss.first, round.preferenceLoss.last, round.accuracy,
                       round.logProbabilityGap.first, round.logProbabilityGap.last, row.max[0], row.trueWatchSeconds, seconds))
            rounds.append(round)
        }
        return rounds
    }

    private func evaluate(_ name: String, _ setup: Setup, model: Seq2Seq) -> Row {
        let decoder = SessionDecoder(model: model, weights: model.decodingWeights(), tokenizer: setup.tokenizer)
        return evaluate(name, setup) { _, history in
            let tokens = setup.tokenizer.historyTokens(history[...], maxItems: 20)
            return decoder.generate(history: tokens, items: config.world.sessionItems, beam: config.evaluationBeam, excluded: Set(history)).sessions.map(\.items)
        }
    }

    /// SASRec's sessions: its ranking of unseen items, cut into `evaluationBeam` sessions in rank order.
    private func sasrecSessions(_ model: SASRec, _ history: [UInt64]) -> [[UInt64]] {
        let m = config.world.sessionItems
        var best = TopK<UInt64>(capacity: m * config.evaluationBeam)
        let seen = Set(history)
        for (i, s) in model.itemScores(history: history.map { Int32($0) }).enumerated() where !seen.contains(UInt64(i)) { best.offer(s, UInt64(i)) }
        let ranked = best.sortedDescending().map(\.payload)
        return Swift.stride(from: 0, to: ranked.count - m + 1, by: m).map { Array(ranked[$0..<($0 + m)]) }
    }

    /// Scores `sessions(user, history)` (best first) for every held-out user.
    private func evaluate(_ name: String, _ setup: Setup, sessions: (UInt64, [UInt64]) -> [[UInt64]]) -> Row {
        var mean = [Double](repeating: 0, count: 4), max = [Double](repeating: 0, count: 4)
        var watch = 0.0
        var invalid = 0
        let n = Double(setup.evaluation.count)
        for (user, history) in setup.evaluation {
            let generated = sessions(user, history)
            invalid += generated.filter { s in Set(s).count != s.count || s.contains { setup.tokenizer.codebook.code(of: $0) == nil } }.count
            guard let top = generated.first else { continue }
            let scores = setup.reward.predict(RewardModel.Batch(histories: generated.map { _ in history }, sessions: generated))
            for k in 0..<4 {
                mean[k] += scores.map { Double($0[k]) }.reduce(0, +) / Double(scores.count) / n
                max[k] += Double(scores.map { $0[k] }.max()!) / n
            }
            watch += setup.world.utility(user: Int(user), session: top).watchTimeMs / 1000 / n
        }
        return Row(name: name, mean: mean, max: max, trueWatchSeconds: watch, invalid: invalid)
    }

    /// The exact expectations' AUC against the held-out labels (see `Result.oracleAUC`).
    private func oracleAUC(_ setup: Setup) -> [Double?] {
        let utilities = setup.heldOut.map { setup.world.utility(user: Int($0.user), session: $0.session) }
        func auc(_ k: Int, _ score: (World.Utility) -> Double) -> Double? {
            let y = setup.heldOut.map { $0.labels[k] }
            let median = y.sorted()[y.count / 2]
            let binary = Set(y).isSubset(of: [0, 1])
            return areaUnderCurve(scores: utilities.map { Float(score($0)) }, positives: y.map { binary ? $0 == 1 : $0 > median })
        }
        return [auc(0) { $0.watchTimeMs }, nil, auc(2) { $0.follows }, auc(3) { $0.likes }]
    }
}

func mean(_ values: some Collection<Float>) -> Float { values.isEmpty ? 0 : values.reduce(0, +) / Float(values.count) }
func mean(_ values: some Collection<Double>) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }
