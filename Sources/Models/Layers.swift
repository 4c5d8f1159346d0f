import Engine

/// Self-attention with fused q/k/v projection (3D, D) and output projection (D, D); no biases (T5).
struct SelfAttention {
    let qkv: Tensor, out: Tensor
    let heads: Int

    init(_ p: ParameterStore, _ name: String, width d: Int, heads: Int) {
        qkv = p.normal("\(name).qkv", [3 * d, d], std: Float(d).squareRoot().reciprocal)
        out = p.normal("\(name).out", [d, d], std: Float(d).squareRoot().reciprocal)
        self.heads = heads
    }

    /// x (B, T, D) -> (B, T, D)
    func callAsFunction(_ g: Graph, _ x: Tensor, mask: AttentionMask, bias: Tensor?) -> Tensor {
        let d = x.lastDimension
        let qkv = g.linear(x, self.qkv)  // (B, T, 3D)
        let q = g.slice(qkv, axis: 2, 0..<d), k = g.slice(qkv, axis: 2, d..<2 * d), v = g.slice(qkv, axis: 2, 2 * d..<3 * d)
        return g.linear(g.attention(q: q, k: k, v: v, heads: heads, mask: mask, bias: bias), out)
    }
}

/// Cross-attention from the decoder (queries) to the context (keys and values). With `keysValues`, the
/// layer projects the context to its own keys and values (encoder-decoder); without, it reads keys and
/// values that several layers share (the lazy decoder).
struct CrossAttention {
    let q: Tensor, kv: Tensor?, out: Tensor
    let heads: Int

    init(_ p: ParameterStore, _ name: String, width d: Int, heads: Int, keysValues: Bool = true) {
        q = p.normal("\(name).q", [d, d], std: Float(d).squareRoot().reciprocal)
        kv = keysValues ? p.normal("\(name).kv", [2 * d, d], std: Float(d).squareRoot().reciprocal) : nil
        out = p.normal("\(name).out", [d, d], std: Float(d).squareRoot().reciprocal)
        self.heads = heads
    }

    /// memory (B, Tk, D), projection (2D, D) -> keys and values (B, Tk, D) each.
    static func keysValues(_ g: Graph, memory: Tensor, projection: Tensor) -> (k: Tensor, v: Tensor) {
        let d = memory.lastDimension
        let kv = g.linear(memory, projection)
        return (g.slice(kv, axis: 2, 0..<d), g.slice(kv, axis: 2, d..<2 * d))
    }

    /// This layer's own keys and values of `memory`.
    func keysValues(_ g: Graph, memory: Tensor) -> (k: Tensor, v: Tensor) {
        guard let kv else { preconditionFailure("this cross-attention reads shared keys and values") }
        return Self.keysValues(g, memory: memory, projection: kv)
    }

    /// x (B, Tq, D), keys and values (B, Tk, D), bias (H, Tq, Tk) or nil -> (B, Tq, D)
    func callAsFunction(_ g: Graph, _ x: Tensor, keys k: Tensor, values v: Tensor, mask: AttentionMask, bias: Tensor? = nil) -> Tensor {
        g.linear(g.attention(q: g.linear(x, q), k: k, v: v, heads: heads, mask: mask, bias: bias), out)
    }
}

/// Dense GELU feed-forward: W2 gelu(W1 x).
struct FeedForward {
    let w1: Tensor, w2: Tensor

    init(_ p: ParameterStore, _ name: String, width d: Int, hidden f: Int) {
        w1 = p.normal("\(name).w1", [f, d], std: Float(d).squareRoot().reciprocal)
        w2 = p.normal("\(name).w2", [d, f], std: Float(f).squareRoot().reciprocal)
    }

    func callAsFunction(_ g: Graph, _ x: Tensor) -> Tensor { g.linear(g.gelu(g.linear(x, w1)), w2) }
}

/// Sparse mixture-of-experts feed-forward: a router and E GELU experts, top-k per token.
struct MoEFeedForward {
    let router: Tensor, w1: Tensor, w2: Tensor
    let routing: Routing

    init(_ p: ParameterStore, _ name: String, width d: Int, hidden f: Int, experts: Int, routing: Routing) {
        router = p.normal("\(name).router", [experts, d], std: 0.02)
        w1 = p.normal("\(name).w1", [experts, f, d], std: Float(d).squareRoot().reciprocal)
        w2 = p.normal("\(name).w2", [experts, d, f], std: Float(f).squareRoot().reciprocal)
        self.routing = routing
    }

    /// x (..., D) -> (..., D), and the layer's balance loss (in training graphs only).
    func callAsFunction(_ g: Graph, _ x: Tensor) -> (Tensor, Tensor?) {
        let d = x.lastDimension
        let flat = g.reshape(x, [x.rows, d])
        let logits = g.linear(flat, router)
        let (y, table) = g.mixtureOfExperts(flat, logits: logits, w1: w1, w2: w2, routing: routing)
        return (g.reshape(y, x.shape), g.training ? g.balanceLoss(logits: logits, table: table) : nil)
    }
}

extension Float {
    var reciprocal: Float { 1 / self }
}
