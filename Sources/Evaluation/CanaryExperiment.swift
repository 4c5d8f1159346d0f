import Alignment
import Engine
import Events
import Foundation
import Generator
import Models
import Simulator

/// `onerec canary report`: the canary against the reward-model gate, on the simulator. Per seed, three
/// candidates start from the same base generator: two aligned for one DPO round, with the reward model
/// learned from the log and with a corrupted one (learned from the log with every label inverted, so it
/// prefers what users dislike), and one trained on the log for as many steps again. Each meets the gate
/// the daemon applies first (the log's reward model, or for the corrupted candidate the corrupted one
/// that trained it, scoring the users' top sessions above the base's), then a canary: simulated users
/// (every user with a history, drawn at random per session) are served by their arm's model, the world
/// responds, and each arm's session watch time feeds `Canary.decide`, looked at every `lookEvery`
/// sessions, until it decides. A candidate is truly better when the world's expected watch time of its
/// top sessions over those users beats the base's, both measured before its canary (the users' tastes
/// drift as they respond, so each canary runs in the world the one before left).
public struct CanaryExperiment {
    public struct Config: Sendable {
        public var alignment = AlignmentExperiment.Config()
        public var canary: Canary.Settings = {
            var s = Canary.Settings()
            (s.share, s.sessions, s.earlyLookSessions) = (0.5, 2_000, 100)
            return s
        }()
        /// Sessions between looks (both arms together).
        public var lookEvery = 50
        /// A canary still running after this many sessions counts as undecided.
        public var maxSessions = 40_000
        public init() {}
    }

    /// One candidate's way through the gate and the canary.
    public struct Decision: Sendable {
        /// "log reward", "corrupted reward" or "trained longer".
        public let candidate: String
        /// The training reward model's mean score of the held-out users' top sessions, base and candidate,
        /// and whether the gate passes it.
        public let gateBefore: Double, gateAfter: Double
        public var gatePasses: Bool { gateAfter > gateBefore }
        /// Expected watch time (s) of the top sessions, base and candidate: the truth.
        public let trueBefore: Double, trueAfter: Double
        public var trulyBetter: Bool { trueAfter > trueBefore }
        /// The canary's end (`running`: undecided after `maxSessions`), its sessions (both arms) and evidence.
        public let state: Canary.State
        public let sessions: Int
        public let reason: String
    }

    public let config: Config
    public init(config: Config) { self.config = config }

    public func run(log say: (String) -> Void) throws -> [Decision] {
        let experiment = AlignmentExperiment(config: config.alignment)
        let setup = try experiment.prepare(withSASRec: false, log: say)
        var rc = RewardModel.Config()
        rc.items = config.alignment.world.items
        let corrupted = RewardModel(config: rc, seed: config.alignment.seed &+ 2)
        corrupted.fit(setup.trainExamples.map { e in
            RewardExample(user: e.user, history: e.history, session: e.session, labels: e.labels.map { 1 - $0 }, positives: e.positives)
        }, steps: config.alignment.rewardSteps, seed: config.alignment.seed &+ 2)
        let base = sessions(setup, model: setup.base)
        var decisions: [Decision] = []
        for (name, reward) in [("log reward", setup.reward), ("corrupted reward", corrupted), ("trained longer", setup.reward)] {
            let policy = GeneratorTrainer(model: setup.base.copy(), tokenizer: setup.tokenizer, maxHistory: 20,
                                          sessionItems: config.alignment.world.sessionItems, optimizer: setup.optimizer)
            if name == "trained longer" {
                AlignmentExperiment.train(policy, on: setup.realSessions, steps: config.alignment.generatorSteps,
                                          firstStep: config.alignment.generatorSteps, seed: config.alignment.seed &+ 17) { _ in }
            } else {
                _ = experiment.align(setup, objective: .dpo(beta: 0.1), userShare: config.alignment.userShare, reward: reward, policy: policy) { _ in }
            }
            let candidate = sessions(setup, model: policy.model)
            let decision = canary(setup, name: name, reward: reward, base: base, candidate: candidate)
            say(String(format: "  %@: gate %.4f -> %.4f (%@), true watch %.2f -> %.2f s; canary %@ after %d sessions: %@", name,
                       decision.gateBefore, decision.gateAfter, decision.gatePasses ? "passes" : "refuses", decision.trueBefore, decision.trueAfter,
                       decision.state.rawValue, decision.sessions, decision.reason))
            decisions.append(decision)
        }
        return decisions
    }

    /// Every user with a history (the held-out users' and the training users' latest) and their top
    /// generated session under `model`: the canary's population, wide enough that a user meets the same
    /// session only a few times in a canary.
    private func sessions(_ setup: AlignmentExperiment.Setup, model: Seq2Seq) -> [UInt64: [UInt64]] {
        let decoder = SessionDecoder(model: model, weights: model.decodingWeights(), tokenizer: setup.tokenizer)
        var top: [UInt64: [UInt64]] = [:]
        for (user, history) in population(setup) {
            let tokens = setup.tokenizer.historyTokens(history[...], maxItems: 20)
            top[user] = decoder.generate(history: tokens, items: config.alignment.world.sessionItems, beam: config.alignment.evaluationBeam,
                                         excluded: Set(history)).sessions.first?.items ?? []
        }
        return top
    }

    private func population(_ setup: AlignmentExperiment.Setup) -> [(user: UInt64, history: [UInt64])] {
        var latest: [UInt64: [UInt64]] = [:]
        for (user, history) in setup.trainHistories + setup.evaluation where history.count > (latest[user]?.count ?? 0) { latest[user] = history }
        return latest.keys.sorted().map { (user: $0, history: latest[$0]!) }
    }

    private func canary(_ setup: AlignmentExperiment.Setup, name: String, reward: RewardModel, base: [UInt64: [UInt64]],
                        candidate: [UInt64: [UInt64]]) -> Decision {
        let users = population(setup).filter { !(base[$0.user] ?? []).isEmpty && !(candidate[$0.user] ?? []).isEmpty }
        func gate(_ top: [UInt64: [UInt64]]) -> Double {
            let scores = reward.predict(RewardModel.Batch(histories: users.map(\.history), sessions: users.map { top[$0.user]! }))
            return scores.map { Double(RewardWeights().reward($0)) }.reduce(0, +) / Double(max(users.count, 1))
        }
        func truth(_ top: [UInt64: [UInt64]]) -> Double {
            users.map { setup.world.utility(user: Int($0.user), session: top[$0.user]!).watchTimeMs / 1000 }.reduce(0, +) / Double(max(users.count, 1))
        }
        let (gateBefore, gateAfter, trueBefore, trueAfter) = (gate(base), gate(candidate), truth(base), truth(candidate))
        var canary = Canary(id: 1, candidate: 2, controlAtStart: 1, settings: config.canary, startedAt: 0)
        var arms = (control: SessionOutcomes(version: nil), candidate: SessionOutcomes(version: 2))
        var rng = SplitMix64(seed: config.alignment.seed &+ 31)
        var eventID = 0
        var sessions = 0
        while canary.state == .running && sessions < config.maxSessions {
            let user = users[Int(rng.next() % UInt64(users.count))].user
            let inCandidate = canary.servesCandidate(user: user)
            let events = setup.world.respond(user: Int(user), session: (inCandidate ? candidate : base)[user]!, requestID: "canary-\(sessions)",
                                             startMs: Int64(sessions) * 60_000) { eventID += 1; return "c\(eventID)" }
            let watch = events.reduce(0.0) { $0 + Double($1.watchTimeMs) } / 1000
            func add(_ o: inout SessionOutcomes) { (o.sessions, o.watchSeconds, o.watchSquares) = (o.sessions + 1, o.watchSeconds + watch, o.watchSquares + watch * watch) }
            if inCandidate { add(&arms.candidate) } else { add(&arms.control) }
            sessions += 1
            if sessions % config.lookEvery == 0 { canary.decide(control: arms.control, candidate: arms.candidate, now: 0) }
        }
        return Decision(candidate: name, gateBefore: gateBefore, gateAfter: gateAfter, trueBefore: trueBefore, trueAfter: trueAfter,
                        state: canary.state, sessions: sessions, reason: canary.reason ?? "undecided after \(sessions) sessions")
    }
}
