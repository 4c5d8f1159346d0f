import Engine

/// A T5-style encoder-decoder whose decoder feed-forwards are sparse mixtures of experts (OneRec's
/// backbone): pre-norm RMSNorm blocks, relative position bias shared across layers, no biases.
public final class Seq2Seq {
    public struct Config: Sendable, Equatable, Codable {
        /// Token vocabulary (semantic-ID codes of every level plus special tokens).
        public var vocabulary = 776
        /// Model width.
        public var width = 128
        public var heads = 4
        public var encoderLayers = 2
        public var decoderLayers = 2
        /// Hidden width of the encoder's dense feed-forwards and of each decoder expert.
        public var feedForward = 512
        /// Experts per decoder layer (the paper: 24).
        public var experts = 4
        /// Experts each token uses (the paper: 2).
        public var topK = 2
        /// Weight of the decoder's load-balancing loss in the training loss.
        public var balanceWeight: Float = 0.01
        /// Relative position buckets and the distance where they stop growing (T5's defaults).
        public var positionBuckets = 32
        public var maxDistance = 128
        public var dropout: Float = 0
        public init() {}

        /// Named sizes: `tiny` (tests), `small` (the CPU default: the reference model), `base`.
        public static func preset(_ name: String) -> Config? {
            var c = Config()
            switch name {
            case "tiny":
                (c.width, c.heads, c.encoderLayers, c.decoderLayers, c.feedForward, c.experts) = (32, 2, 1, 1, 64, 4)
            case "small":
                break
            case "base":
                (c.width, c.heads, c.encoderLayers, c.decoderLayers, c.feedForward, c.experts) = (256, 8, 4, 4, 1024, 8)
            default:
                return nil
            }
            return c
        }
    }

    public let config: Config
    public let parameters: ParameterStore
    let embedding: Tensor
    let encoderBias: Tensor, decoderBias: Tensor
    let encoder: [(norm1: Tensor, attention: SelfAttention, norm2: Tensor, ffn: FeedForward)]
    let encoderNorm: Tensor
    let decoder: [(norm1: Tensor, selfAttention: SelfAttention, norm2: Tensor, cross: CrossAttention, norm3: Tensor, moe: MoEFeedForward)]
    let decoderNorm: Tensor
    let head: Tensor

    public init(config: Config, seed: UInt64) {
        self.config = config
        let p = ParameterStore(seed: seed)
        let d = config.width
        embedding = p.normal("embedding", [config.vocabulary, d], std: 1)
        encoderBias = p.normal("encoder.position_bias", [config.positionBuckets, config.heads], std: 0.1)
        decoderBias = p.normal("decoder.position_bias", [config.positionBuckets, config.heads], std: 0.1)
        encoder = (0..<config.encoderLayers).map { i in
            (p.constant("encoder.\(i).norm1", [d], 1), SelfAttention(p, "encoder.\(i).attention", width: d, heads: config.heads),
             p.constant("encoder.\(i).norm2", [d], 1), FeedForward(p, "encoder.\(i).ffn", width: d, hidden: config.feedForward))
        }
        encoderNorm = p.constant("encoder.norm", [d], 1)
        let routing = Routing(topK: config.topK)
        decoder = (0..<config.decoderLayers).map { i in
            (p.constant("decoder.\(i).norm1", [d], 1), SelfAttention(p, "decoder.\(i).self_attention", width: d, heads: config.heads),
             p.constant("decoder.\(i).norm2", [d], 1), CrossAttention(p, "decoder.\(i).cross_attention", width: d, heads: config.heads),
             p.constant("decoder.\(i).norm3", [d], 1),
             MoEFeedForward(p, "decoder.\(i).moe", width: d, hidden: config.feedForward, experts: config.experts, routing: routing))
        }
        decoderNorm = p.constant("decoder.norm", [d], 1)
        head = p.normal("head", [config.vocabulary, d], std: Float(d).squareRoot().reciprocal)
        parameters = p
    }

    /// A batch: B encoder sequences of Te tokens (with a validity mask for padding) and B decoder
    /// sequences of Td input tokens (teacher forcing) with their targets (-1: no loss).
    public struct Batch: Sendable {
        public var batch: Int, encoderLength: Int, decoderLength: Int
        public var encoderTokens: [Int32]
        public var encoderValid: [UInt8]
        public var decoderInputs: [Int32]
        public var targets: [Int32]
        public init(batch: Int, encoderLength: Int, decoderLength: Int, encoderTokens: [Int32], encoderValid: [UInt8],
                    decoderInputs: [Int32], targets: [Int32]) {
            precondition(encoderTokens.count == batch * encoderLength && encoderValid.count == encoderTokens.count)
            precondition(decoderInputs.count == batch * decoderLength && targets.count == decoderInputs.count)
            (self.batch, self.encoderLength, self.decoderLength) = (batch, encoderLength, decoderLength)
            (self.encoderTokens, self.encoderValid, self.decoderInputs, self.targets) = (encoderTokens, encoderValid, decoderInputs, targets)
        }
    }

    /// The encoder's output (B, Te, D).
    public func encode(_ g: Graph, tokens: [Int32], valid: [UInt8], batch: Int, length: Int) -> Tensor {
        var x = g.dropout(g.embedding(embedding, tokens, shape: [batch, length]), config.dropout)
        let buckets = relativePositionBuckets(queries: length, keys: length, bidirectional: true,
                                              buckets: config.positionBuckets, maxDistance: config.maxDistance)
        let bias = g.relativePositionBias(encoderBias, buckets: buckets, queries: length, keys: length)
        let mask = AttentionMask(keyValid: valid)
        for layer in encoder {
            x = g.add(x, g.dropout(layer.attention(g, g.rmsNorm(x, weight: layer.norm1), mask: mask, bias: bias), config.dropout))
            x = g.add(x, g.dropout(layer.ffn(g, g.rmsNorm(x, weight: layer.norm2)), config.dropout))
        }
        return g.rmsNorm(x, weight: encoderNorm)
    }

    /// Logits (B, Td, V) for every decoder position, and the summed balance loss of the MoE layers.
    public func decode(_ g: Graph, memory: Tensor, memoryValid: [UInt8], inputs: [Int32], batch: Int, length: Int) -> (logits: Tensor, balance: Tensor?) {
        var x = g.dropout(g.embedding(embedding, inputs, shape: [batch, length]), config.dropout)
        let buckets = relativePositionBuckets(queries: length, keys: length, bidirectional: false,
                                              buckets: config.positionBuckets, maxDistance: config.maxDistance)
        let bias = g.relativePositionBias(decoderBias, buckets: buckets, queries: length, keys: length)
        var balance: Tensor?
        for layer in decoder {
            x = g.add(x, g.dropout(layer.selfAttention(g, g.rmsNorm(x, weight: layer.norm1), mask: AttentionMask(causal: true), bias: bias), config.dropout))
            x = g.add(x, g.dropout(layer.cross(g, g.rmsNorm(x, weight: layer.norm2), memory: memory, mask: AttentionMask(keyValid: memoryValid)), config.dropout))
            let (y, aux) = layer.moe(g, g.rmsNorm(x, weight: layer.norm3))
            x = g.add(x, g.dropout(y, config.dropout))
            if let aux { balance = balance.map { g.add($0, aux) } ?? aux }
        }
        return (g.linear(g.rmsNorm(x, weight: decoderNorm), head), balance)
    }

    /// Each example's summed log-probability of its targets (B), with gradients: what preference
    /// objectives compare between chosen and rejected sessions.
    public func sequenceLogProbabilities(_ g: Graph, _ batch: Batch) -> Tensor {
        let memory = encode(g, tokens: batch.encoderTokens, valid: batch.encoderValid, batch: batch.batch, length: batch.encoderLength)
        let (logits, _) = decode(g, memory: memory, memoryValid: batch.encoderValid, inputs: batch.decoderInputs,
                                 batch: batch.batch, length: batch.decoderLength)
        let perToken = g.targetLogProbabilities(g.reshape(logits, [batch.batch * batch.decoderLength, config.vocabulary]), targets: batch.targets)
        return g.sumLast(g.reshape(perToken, [batch.batch, batch.decoderLength]))
    }

    /// A copy with the same configuration and parameter values (the frozen reference of an alignment round).
    public func copy() -> Seq2Seq {
        let twin = Seq2Seq(config: config, seed: 0)
        do { try twin.parameters.load(parameters.named) } catch { preconditionFailure("a model's copy has its shapes: \(error)") }
        return twin
    }

    /// Next-token cross-entropy over the batch's targets plus `balanceWeight` times the balance loss.
    /// Returns the total (to back-propagate) and the cross-entropy alone (to report).
    public func loss(_ g: Graph, _ batch: Batch) -> (total: Tensor, crossEntropy: Tensor) {
        let memory = encode(g, tokens: batch.encoderTokens, valid: batch.encoderValid, batch: batch.batch, length: batch.encoderLength)
        let (logits, balance) = decode(g, memory: memory, memoryValid: batch.encoderValid, inputs: batch.decoderInputs,
                                       batch: batch.batch, length: batch.decoderLength)
        let ce = g.crossEntropy(g.reshape(logits, [batch.batch * batch.decoderLength, config.vocabulary]), targets: batch.targets)
        guard let balance, config.balanceWeight > 0 else { return (ce, ce) }
        return (g.add(ce, g.scale(balance, config.balanceWeight)), ce)
    }
}
