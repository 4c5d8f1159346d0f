import Engine

/// SASRec (Kang & McAuley 2018): a causal transformer over item ids whose output at each position scores
/// every item by a dot product with the (shared) item embeddings. The pointwise baseline the generator
/// is compared with, trained and evaluated by the same engine on the same split.
public final class SASRec {
    public struct Config: Sendable, Equatable {
        /// Items; id 0 is padding, items are 1...items.
        public var items = 3706
        public var width = 64
        public var heads = 2
        public var layers = 2
        /// Longest history fed in (the newest items).
        public var maxLength = 200
        public var dropout: Float = 0.2
        public init() {}
    }

    public let config: Config
    public let parameters: ParameterStore
    let itemEmbedding: Tensor, positionEmbedding: Tensor
    let blocks: [(norm1: Tensor, bias1: Tensor, attention: SelfAttention, norm2: Tensor, bias2: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor)]
    let finalNorm: Tensor, finalBias: Tensor

    public init(config: Config, seed: UInt64) {
        self.config = config
        let p = ParameterStore(seed: seed)
        let d = config.width
        itemEmbedding = p.normal("items", [config.items + 1, d], std: Float(d).squareRoot().reciprocal)
        positionEmbedding = p.normal("positions", [config.maxLength, d], std: Float(d).squareRoot().reciprocal)
        blocks = (0..<config.layers).map { i in
            (p.constant("block\(i).norm1", [d], 1), p.constant("block\(i).norm1.bias", [d], 0),
             SelfAttention(p, "block\(i).attention", width: d, heads: config.heads),
             p.constant("block\(i).norm2", [d], 1), p.constant("block\(i).norm2.bias", [d], 0),
             p.normal("block\(i).w1", [d, d], std: Float(d).squareRoot().reciprocal), p.constant("block\(i).b1", [d], 0),
             p.normal("block\(i).w2", [d, d], std: Float(d).squareRoot().reciprocal), p.constant("block\(i).b2", [d], 0))
        }
        finalNorm = p.constant("final.norm", [d], 1)
        finalBias = p.constant("final.norm.bias", [d], 0)
        parameters = p
    }

    /// Hidden states (B, T, D) of left-padded sequences (B, T) of item ids (0 = padding).
    public func hidden(_ g: Graph, sequences: [Int32], batch: Int, length t: Int) -> Tensor {
        precondition(t <= config.maxLength, "SASRec: sequences of \(t) > maxLength \(config.maxLength)")
        let d = config.width
        var x = g.embedding(itemEmbedding, sequences, shape: [batch, t])
        x = g.scale(x, Float(d).squareRoot())
        let positions = (0..<batch).flatMap { _ in (0..<t).map { Int32(config.maxLength - t + $0) } }
        x = g.dropout(g.add(x, g.embedding(positionEmbedding, positions, shape: [batch, t])), config.dropout)
        let mask = AttentionMask(causal: true, keyValid: sequences.map { $0 == 0 ? 0 : 1 })
        for b in blocks {
            x = g.add(x, g.dropout(b.attention(g, g.layerNorm(x, weight: b.norm1, bias: b.bias1), mask: mask, bias: nil), config.dropout))
            let h = g.relu(g.linear(g.layerNorm(x, weight: b.norm2, bias: b.bias2), b.w1, b.b1))
            x = g.add(x, g.dropout(g.linear(g.dropout(h, config.dropout), b.w2, b.b2), config.dropout))
        }
        return g.layerNorm(x, weight: finalNorm, bias: finalBias)
    }

    /// Mean next-item cross-entropy over all items (full softmax) at every non-padding position;
    /// targets (B, T), -1 where there is none. Only the positions with a target are scored: with
    /// histories shorter than `maxLength` padded, the (positions, items) product is the largest cost.
    public func loss(_ g: Graph, sequences: [Int32], targets: [Int32], batch: Int, length t: Int) -> Tensor {
        let h = g.reshape(hidden(g, sequences: sequences, batch: batch, length: t), [batch * t, config.width])
        let scored = targets.indices.filter { targets[$0] >= 0 }
        precondition(!scored.isEmpty, "SASRec: a batch without targets")
        let logits = g.linear(g.embedding(h, scored.map { Int32($0) }), itemEmbedding)  // (N, items + 1)
        return g.crossEntropy(logits, targets: scored.map { targets[$0] })
    }

    /// Scores of every item (index 0 = padding) after each sequence's last position: (B, items + 1).
    public func scores(sequences: [Int32], batch: Int, length t: Int) -> Tensor {
        let g = Graph(training: false)
        let h = hidden(g, sequences: sequences, batch: batch, length: t)
        let last = g.slice(h, axis: 1, (t - 1)..<t)
        return g.linear(g.reshape(last, [batch, config.width]), itemEmbedding)
    }
}
