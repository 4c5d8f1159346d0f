import Alignment
import Engine
import Foundation
import Generator
import Logging
import Models
import SemanticIDs
import Serving
import Store

extension Learner {
    /// One alignment round (IPA): a sample of users' histories, candidates beam-searched by a copy of the
    /// trainer's model and scored by the reward model, the best and worst as a preference pair, training
    /// with next-token loss + lambda * the preference objective against the frozen copy. The candidate is
    /// then compared with the current model on held-out users and promoted (published, served, and
    /// adopted by the trainer) only if its mean reward beats the current one's by `minimumGain`.
    public func align(reason: String) throws -> AlignmentRound {
        guard let models, let codebook else { throw LearnerError("no model to align yet (\(status.snapshot.phase))") }
        let trainer = models.generator
        let settings = config.alignment
        let started = Date()
        status.update { $0.phase = "aligning" }
        defer {
            status.update { $0.phase = "training" }
            publishStatus()
        }
        let id = (status.snapshot.rounds.last?.id ?? 0) + 1
        let histories = feed.histories.filter { !$0.value.isEmpty }
        // Held-out users: a fixed hash of the id, so the same users judge every round.
        let heldOut = histories.keys.filter { var h = SplitMix64(seed: $0); return h.next() % 10 == 0 }.sorted().prefix(settings.evaluationUsers)
        let heldOutSet = Set(heldOut)
        var pool = histories.keys.filter { !heldOutSet.contains($0) }.sorted()
        let wanted = max(settings.minimumUsers, Int((Double(histories.count) * settings.userShare).rounded(.up)))
        guard pool.count >= 2, !heldOut.isEmpty, examples.sessions.count > 0 else {
            throw LearnerError("too few users with history to align (\(histories.count))")
        }
        for i in stride(from: pool.count - 1, to: 0, by: -1) { pool.swapAt(i, Int(examples.rng.next() % UInt64(i + 1))) }
        let tokenizer = self.tokenizer(codebook)
        let gaps = feed.historyGaps
        let sample = pool.prefix(wanted).map { user in
            let (history, g) = tokenizer.coded(histories[user]!, gaps: gaps[user])
            return (user: user, history: history, gaps: g)
        }.filter { !$0.history.isEmpty }

        let policy = GeneratorTrainer(model: trainer.model.copy(), tokenizer: trainer.tokenizer, maxHistory: config.maxHistory,
                                      sessionItems: trainer.sessionItems, optimizer: {
                                          var oc = AdamW.Config()
                                          oc.learningRate = config.learningRate
                                          return oc
                                      }())
        var ac = PreferenceAlignment.Config()
        ac.objective = settings.objective
        ac.candidates = settings.candidates
        ac.steps = settings.steps
        ac.seed = config.seed &+ UInt64(id)
        let alignment = PreferenceAlignment(trainer: policy, reward: models.reward, config: ac)
        let pairs: [PreferencePair]
        switch settings.pairs {
        case .rewardModel:
            pairs = alignment.pairs(users: sample)
        case .realSessions:
            // The training users' logged sessions, both sessions and the context coded; as many as the
            // reward model's pairs would be, drawn from the replay.
            var logged = RealSessionPairs.make(from: examples.loggedSessions, round: 0).filter { p in
                !heldOutSet.contains(p.user) && !p.history.isEmpty && (p.history + p.chosen + p.rejected).allSatisfy { codebook.code(of: $0) != nil }
            }
            for i in stride(from: logged.count - 1, to: 0, by: -1) { logged.swapAt(i, Int(examples.rng.next() % UInt64(i + 1))) }
            pairs = Array(logged.prefix(sample.count))
        }
        let evaluation = heldOut.map { (user: $0, history: histories[$0]!, gaps: gaps[$0]) }
        let before = evaluate(trainer.model, users: evaluation)
        var round = AlignmentRound(id: id, reason: reason, startedAt: started.timeIntervalSince1970, users: sample.count, pairs: pairs.count,
                                   rewardBefore: before.reward, trueWatchBefore: before.trueWatch)
        round.pairSource = settings.pairs.rawValue
        let real = examples.sessionBatch(max(256, config.batch), codedBy: tokenizer)
        if pairs.isEmpty || real.isEmpty {
            round.note = !pairs.isEmpty ? "no coded training sessions"
                : settings.pairs == .realSessions ? "no preference pairs (no user's consecutive sessions differ enough in watch time)"
                : "no preference pairs (every user's candidates scored alike)"
        } else {
            let stats = alignment.train(pairs: pairs, realSessions: real)
            let after = evaluate(policy.model, users: evaluation)
            (round.rewardAfter, round.trueWatchAfter) = (after.reward, after.trueWatch)
            let metrics = [
                "rewardBefore": before.reward, "rewardAfter": after.reward, "pairs": Double(pairs.count),
                "preferenceLoss": Double(stats.preferenceLoss.last ?? 0),
            ].merging(after.trueWatch.map { ["trueWatchSeconds": $0] } ?? [:]) { $1 }
            if after.reward > before.reward * (1 + settings.minimumGain), let canary = settings.canary {
                // Users decide: the trainer keeps its own weights unless the canary promotes the candidate.
                let snapshot = try publish(kind: .aligned, model: policy.model, metrics: metrics, promote: false)
                round.version = snapshot.version
                do {
                    let started = try registry.startCanary(version: snapshot.version, settings: canary)
                    round.note = "passed the reward gate; canary \(started.id) serves it to \(Int((canary.share * 100).rounded()))% of users"
                } catch {
                    round.note = "passed the reward gate; published, not canaried: \(error)"
                }
            } else if after.reward > before.reward * (1 + settings.minimumGain) {
                try trainer.model.parameters.load(policy.model.parameters.named)
                let snapshot = try publish(kind: .aligned, model: trainer.model, metrics: metrics)
                (round.promoted, round.version) = (true, snapshot.version)
                round.note = "promoted"
            } else {
                round.note = String(format: "not promoted: held-out reward %.4f -> %.4f, gate needs > %.4f", before.reward, after.reward,
                                    before.reward * (1 + settings.minimumGain))
            }
        }
        round.seconds = Date().timeIntervalSince(started)
        try rounds.append(round, pairs: pairs)
        status.update { $0.rounds.append(round) }
        logger.notice("alignment round done", metadata: [
            "round": "\(id)", "reason": "\(reason)", "pairs": "\(pairs.count)", "promoted": "\(round.promoted)",
            "rewardBefore": "\(round.rewardBefore)", "rewardAfter": "\(round.rewardAfter)", "note": "\(round.note)",
        ])
        return round
    }

    /// Mean reward-model reward (and true watch time in seconds, on the simulator) of each user's top
    /// generated session.
    func evaluate(_ model: Seq2Seq, users: [(user: UInt64, history: [UInt64], gaps: [Int32]?)]) -> (reward: Double, trueWatch: Double?) {
        guard let codebook, let reward = models?.reward else { return (0, nil) }
        let tokenizer = self.tokenizer(codebook)
        let decoder = SessionDecoder(model: model, weights: model.decodingWeights(), tokenizer: tokenizer)
        var total = 0.0, watch = 0.0
        for (user, history, gaps) in users {
            let (coded, codedGaps) = tokenizer.coded(history, gaps: gaps)
            let context = tokenizer.historyContext(coded, gaps: codedGaps, maxItems: config.maxHistory)
            guard let top = decoder.recommend(history: context.tokens, gaps: context.gaps, count: config.sessionItems,
                                              beam: config.alignment.evaluationBeam, excluded: Set(history), targetItems: config.targetItems) else { continue }
            total += Double(RewardWeights().reward(reward.predict(RewardModel.Batch(histories: [history], sessions: [top.items]))[0]))
            if let trueWatch { watch += trueWatch(user, top.items) / 1000 }
        }
        let n = Double(max(users.count, 1))
        return (total / n, trueWatch == nil ? nil : watch / n)
    }
}
