import Engine
import Foundation
@testable import Models
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

    /// The lazy decoder's tiny model: items of 2 codes (level 0 tokens 3...12, level 1 tokens 13...23)
    /// and an item token (24 + row, or [SEP] = 2), 4 item-ID rows.
    static var lazyTiny: Seq2Seq.Config {
        var c = tiny
        (c.architecture, c.encoderLayers, c.levels, c.contextLength, c.itemVocabulary) = (.lazy, 0, 2, 4, 5)
        return c
    }

    /// Four contexts of 2 items (the first item of the last one padded); the decoder must emit the items'
    /// codes newest item first, after a start token 1.
    static var lazyBatch: Seq2Seq.Batch {
        let sequences: [[Int32]] = [[3, 13, 25, 7, 18, 2], [5, 20, 26, 9, 14, 27], [4, 15, 2, 11, 22, 28], [0, 0, 0, 6, 16, 26]]
        let valid: [UInt8] = sequences.enumerated().flatMap { i, s in s.indices.map { i == 3 && $0 < 3 ? 0 : 1 } }
        let targets: [Int32] = [7, 18, 3, 13, 9, 14, 5, 20, 11, 22, 4, 15, 6, 16, -1, -1]
        let inputs: [Int32] = [1, 7, 18, 3, 1, 9, 14, 5, 1, 11, 22, 4, 1, 6, 16, 0]
        return Seq2Seq.Batch(batch: 4, encoderLength: 6, decoderLength: 4, encoderTokens: sequences.flatMap { $0 },
                             encoderValid: valid, decoderInputs: inputs, targets: targets)
    }

    /// A shape the model tests run on: an architecture, the lazy model's causal context layers, a tied head.
    struct Variant: Sendable, CustomTestStringConvertible {
        var architecture: Seq2Seq.Architecture
        var contextLayers = 0
        var tiedHead = false
        var newestItemQuery = false
        var recencyBias = false
        var testDescription: String {
            "\(architecture.rawValue), \(contextLayers) context layers\(tiedHead ? ", tied head" : "")\(newestItemQuery ? ", newest-item query" : "")"
                + (recencyBias ? ", recency bias" : "")
        }
    }

    static let variants = [Variant(architecture: .encoderDecoder), Variant(architecture: .lazy), Variant(architecture: .lazy, contextLayers: 1),
                           Variant(architecture: .lazy, tiedHead: true), Variant(architecture: .lazy, newestItemQuery: true),
                           Variant(architecture: .lazy, newestItemQuery: true, recencyBias: true)]

    /// The tiny model of a variant and its batch.
    static func fixture(_ v: Variant) -> (config: Seq2Seq.Config, batch: Seq2Seq.Batch) {
        var config = v.architecture == .lazy ? lazyTiny : tiny
        if v.architecture == .lazy { config.encoderLayers = v.contextLayers }
        config.tiedHead = v.tiedHead
        config.newestItemQuery = v.newestItemQuery
        config.recencyBias = v.recencyBias
        return (config, v.architecture == .lazy ? lazyBatch : batch)
    }

    /// Trains `steps` AdamW steps; returns the cross-entropy after each.
    static func train(_ model: Seq2Seq, steps: Int, seed: UInt64) -> [Float] {
        let batch = model.config.architecture == .lazy ? lazyBatch : batch
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

    @Test(arguments: variants)
    func overfitsAFixedBatch(_ variant: Variant) {
        let model = Seq2Seq(config: Self.fixture(variant).config, seed: 1)
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

    /// The lazy decoder has no encoder: its context is one embedding sum per item, projected to keys and
    /// values once for all layers.
    @Test func theLazyDecoderHasNoEncoderAndOneSharedContextProjection() {
        var config = Seq2Seq.Config.preset("small", architecture: .lazy)!
        (config.itemVocabulary, config.contextLength) = (100, 200)
        let names = Set(Seq2Seq(config: config, seed: 1).parameters.tensors.compactMap(\.name))
        #expect(!names.contains { $0.hasPrefix("encoder.0.") || $0 == "encoder.position_bias" || $0.hasSuffix("cross_attention.kv") })
        #expect(names.isSuperset(of: ["context.kv", "context.items", "context.positions", "context.recency_bias", "decoder.1.cross_attention.q"]))
        #expect(config.shape.hasPrefix("lazy,"))
        #expect(Seq2Seq.Config().shape == "776,128,4,2,2,512,4,2")
        config.encoderLayers = 1  // causal layers over the context: named as the context's, not an encoder's
        let mixed = Set(Seq2Seq(config: config, seed: 1).parameters.tensors.compactMap(\.name))
        #expect(mixed.isSuperset(of: ["context.0.attention.qkv", "context.0.ffn.w1", "context.kv"]))
        #expect(!mixed.contains { $0.hasPrefix("encoder.0.") })
    }

    /// Sequence training's block n reads the recency bias of the context cut after item n: the same bias
    /// for the same distance back, whichever block.
    @Test func aBlocksRecencyBiasIsTheOneBlockBiasOfItsPrefix() {
        var config = Self.lazyTiny
        (config.newestItemQuery, config.recencyBias) = (true, true)
        let model = Seq2Seq(config: config, seed: 1)
        let g = Graph(training: false)
        let (tc, length, heads) = (5, 2, config.heads)
        let blocked = model.recencyBias(g, blocks: tc, length: length, context: tc)!.values  // (H, Tc * length, Tc)
        for n in 0..<tc {
            let alone = model.recencyBias(g, blocks: 1, length: length, context: n + 1)!.values  // (H, length, n + 1)
            for h in 0..<heads {
                for i in 0..<length {
                    for j in 0...n { #expect(blocked[(h * tc * length + n * length + i) * tc + j] == alone[(h * length + i) * (n + 1) + j]) }
                }
            }
        }
        #expect(Set(blocked).count > 2)  // distances read different rows of the table
    }

    /// Item dropout reads some history items as cold (row 0) in training graphs only: an inference graph
    /// reads every item's row, and without it a training graph reads what inference reads.
    @Test func itemDropoutReadsItemsAsColdInTrainingOnly() throws {
        let batch = Self.lazyBatch
        func context(itemDropout: Float, training: Bool) throws -> [Float] {
            var config = Self.lazyTiny
            config.itemDropout = itemDropout
            let model = Seq2Seq(config: config, seed: 1)
            // Rows start at zero: give them distinct values, so whether a row is read shows.
            let table = try #require(model.parameters.named["context.items"])
            for i in 0..<table.count { table[i] = Float(i % 7) - 3 }
            return model.context(Graph(training: training, seed: 7), tokens: batch.encoderTokens, valid: batch.encoderValid, batch: 4, length: 6).memory.values
        }
        let inference = try context(itemDropout: 0, training: false)
        #expect(try context(itemDropout: 0, training: true) == inference)
        #expect(try context(itemDropout: 0.5, training: false) == inference)
        #expect(try context(itemDropout: 0.5, training: true) != inference)
    }

    /// A tied head is the token embedding: no parameter of its own, and a shape of its own.
    @Test func aTiedHeadIsTheEmbedding() {
        var config = Self.lazyTiny
        config.tiedHead = true
        let names = Seq2Seq(config: config, seed: 1).parameters.tensors.compactMap(\.name)
        #expect(!names.contains("head") && names.contains("embedding"))
        #expect(config.shape == Self.lazyTiny.shape + ",tied")
        #expect(Seq2Seq(config: config, seed: 1).parameters.count < Seq2Seq(config: Self.lazyTiny, seed: 1).parameters.count)
    }

    /// Model records written before the architecture existed read as encoder-decoders.
    @Test func anEarlierConfigDecodesAsAnEncoderDecoder() throws {
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(Seq2Seq.Config())) as! [String: Any]
        for key in ["architecture", "levels", "contextLength", "itemVocabulary"] { json[key] = nil }
        let decoded = try JSONDecoder().decode(Seq2Seq.Config.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(decoded == Seq2Seq.Config())
        var lazy = Seq2Seq.Config.preset("tiny", architecture: .lazy)!
        lazy.itemVocabulary = 7
        #expect(try JSONDecoder().decode(Seq2Seq.Config.self, from: JSONEncoder().encode(lazy)) == lazy)
    }

    @Test func parametersAreNamedAndCounted() {
        let model = Seq2Seq(config: Seq2Seq.Config(), seed: 1)
        let names = model.parameters.tensors.compactMap(\.name)
        #expect(names.count == model.parameters.tensors.count && Set(names).count == names.count)
        #expect(names.contains("decoder.1.moe.router"))
        #expect(model.parameters.count > 1_000_000)
    }
}
