import Alignment
import Engine
import Generator
import Models
import SemanticIDs
import Testing

@Suite struct PreferenceAlignmentTests {
    /// A round on a tiny world: pairs from beam search scored by a reward model, then training raises
    /// log π(chosen) - log π(rejected) on those pairs.
    @Test func aRoundWidensTheChosenOverRejectedMargin() throws {
        var rng = SplitMix64(seed: 1)
        let n = 30
        let values = (0..<(n * 6)).map { _ in rng.nextGaussian() }
        let vectors = ItemVectors(ids: (0..<UInt64(n)).map { $0 }, dimension: 6, values: values)
        var qc = ResidualQuantizer.Config()
        qc.codesPerLevel = 4
        let (q, training) = ResidualQuantizer.train(vectors, config: qc)
        let tokenizer = ItemTokenizer(codebook: try Codebook(version: 1, vectors: vectors, quantizer: q, training: training))
        var mc = Seq2Seq.Config.preset("tiny")!
        mc.vocabulary = tokenizer.vocabulary
        var oc = AdamW.Config()
        oc.learningRate = 3e-3
        let trainer = GeneratorTrainer(model: Seq2Seq(config: mc, seed: 2), tokenizer: tokenizer, maxHistory: 4, sessionItems: 2, optimizer: oc)
        var rc = RewardModel.Config()
        rc.items = n
        let reward = RewardModel(config: rc, seed: 3)
        var config = PreferenceAlignment.Config()
        config.candidates = 8
        config.objective = .dpo(beta: 0.5)
        config.steps = 30
        config.batch = 8
        let alignment = PreferenceAlignment(trainer: trainer, reward: reward, config: config)
        let histories = (0..<12).map { _ in (0..<3).map { _ in rng.next() % UInt64(n) } }
        let pairs = alignment.pairs(users: histories.enumerated().map { (user: UInt64($0.offset), history: $0.element, gaps: nil) })
        #expect(pairs.count == 12)
        #expect(pairs.allSatisfy { $0.chosenReward >= $0.rejectedReward && $0.chosen != $0.rejected && $0.round == 0 })
        #expect(pairs.map(\.user) == (0..<12).map { UInt64($0) })

        func margin() -> Float {
            let both = trainer.batch(pairs.map { SessionExample(history: $0.history, session: $0.chosen) }
                + pairs.map { SessionExample(history: $0.history, session: $0.rejected) })
            let lp = trainer.model.sequenceLogProbabilities(Graph(training: false), both).values
            return (0..<pairs.count).map { lp[$0] - lp[pairs.count + $0] }.reduce(0, +) / Float(pairs.count)
        }
        let before = margin()
        let real = histories.map { SessionExample(history: $0, session: [($0[0] + 1) % UInt64(n), ($0[0] + 2) % UInt64(n)]) }
        let stats = alignment.train(pairs: pairs, realSessions: real)
        let after = margin()
        #expect(after > before + 1, "margin \(before) -> \(after)")
        #expect(stats.accuracy.last! > stats.accuracy.first! || stats.accuracy.last! == 1)
        // The per-step log-probabilities tell the same story (dropout on, so only the direction is checked).
        let gaps = zip(stats.chosenLogProbability, stats.rejectedLogProbability).map { $0 - $1 }
        #expect(gaps.count == 30 && gaps.suffix(5).reduce(0, +) > gaps.prefix(5).reduce(0, +))
        #expect(alignment.round == 1)
        #expect(pairs.allSatisfy { $0.moreRejected.count == 3 && !$0.moreRejected.contains($0.chosen) })

        // S-DPO trains against several rejected sessions per pair.
        var sdpo = config
        sdpo.objective = .sdpo(beta: 0.5)
        sdpo.steps = 5
        let sdpoStats = PreferenceAlignment(trainer: trainer, reward: reward, config: sdpo).train(pairs: pairs, realSessions: real)
        #expect(sdpoStats.preferenceLoss.allSatisfy { $0.isFinite })
    }

    @Test func aCopyIsIndependent() {
        let model = Seq2Seq(config: Seq2Seq.Config.preset("tiny")!, seed: 1)
        let twin = model.copy()
        #expect(twin.parameters.tensors.map(\.values) == model.parameters.tensors.map(\.values))
        model.parameters.tensors[0][0] += 1
        #expect(twin.parameters.tensors[0][0] != model.parameters.tensors[0][0])
    }
}
