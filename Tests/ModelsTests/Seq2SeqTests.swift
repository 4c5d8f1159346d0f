import Engine
import Models
import Testing

@Suite struct Seq2SeqTests {
    static var tiny: Seq2Seq.Config {
        var c = Seq2Seq.Config()
        c.vocabulary = 24
        c.width = 16
        c.heads = 2
        c.encoderLayers = 1
        c.decoderLayers = 1
        c.feedForward = 32
        c.experts = 4
        c.topK = 2
        return c
    }

    /// Four sequences of 6 tokens (the last padded in one of them); the decoder must emit the first four
    /// encoder tokens reversed, after a start token 1.
    static var batch: Seq2Seq.Batch {
        let sequences: [[Int32]] = [[3, 7, 9, 4, 12, 5], [20, 11, 6, 8, 2, 17], [5, 5, 13, 22, 9, 10], [14, 3, 18, 7, 21, 0]]
        let valid: [UInt8] = sequences.enumerated().flatMap { i, s in s.indices.map { i == 3 && $0 == 5 ? 0 : 1 } }
        let targets: [Int32] = sequences.flatMap { Array($0.prefix(4).reversed()) }
        let inputs: [Int32] = sequences.flatMap { s in [1] + Array(s.prefix(4).reversed().prefix(3)) }
        return Seq2Seq.Batch(batch: 4, encoderLength: 6, decoderLength: 4, encoderTokens: sequences.flatMap { $0 },
                             encoderValid: valid, decoderInputs: inputs, targets: targets)
    }

    /// Trains `steps` AdamW steps; returns the cross-entropy after each.
    static func train(_ model: Seq2Seq, steps: Int, seed: UInt64) -> [Float] {
        var config = AdamW.Config()
        config.learningRate = 1e-2
        let adam = AdamW(parameters: model.parameters.tensors, config: config)
        var losses: [Float] = []
        for step in 0..<steps {
            let g = Graph(seed: seed &+ UInt64(step))
            let (total, ce) = model.loss(g, batch)
            g.backward(total)
            adam.update()
            adam.zeroGradients()
            losses.append(ce[0])
        }
        return losses
    }

    @Test func overfitsAFixedBatch() {
        let model = Seq2Seq(config: Self.tiny, seed: 1)
        let losses = Self.train(model, steps: 150, seed: 3)
        #expect(losses[0] > 2.5)  // about log(24) at the start
        #expect(losses.last! < 0.02, "cross-entropy after 150 steps: \(losses.last!)")
    }

    @Test func aSeededRunRepeatsBitForBit() {
        var config = Self.tiny
        config.dropout = 0.1
        let a = Seq2Seq(config: config, seed: 5), b = Seq2Seq(config: config, seed: 5)
        #expect(Self.train(a, steps: 12, seed: 9) == Self.train(b, steps: 12, seed: 9))
        #expect(a.parameters.tensors.map(\.values) == b.parameters.tensors.map(\.values))
        let c = Seq2Seq(config: config, seed: 6)
        #expect(c.parameters.tensors[0].values != a.parameters.tensors[0].values)
    }

    @Test func parametersAreNamedAndCounted() {
        let model = Seq2Seq(config: Seq2Seq.Config(), seed: 1)
        let names = model.parameters.tensors.compactMap(\.name)
        #expect(names.count == model.parameters.tensors.count && Set(names).count == names.count)
        #expect(names.contains("decoder.1.moe.router"))
        #expect(model.parameters.count > 1_000_000)
    }
}
