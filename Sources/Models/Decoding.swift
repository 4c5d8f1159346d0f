import Engine

/// Tape-free decoding state for R rows (the beams of B requests, R = B * beamsPerRequest): the encoder's
/// cross-attention keys and values, computed once per request, and a self-attention key/value cache per
/// row that grows by one position per step and follows the beams when they are reordered.
public final class DecoderState {
    let requests: Int, beamsPerRequest: Int, capacity: Int
    let memoryLength: Int
    let memoryValid: [UInt8]
    /// Per layer: (B, Te, D) each.
    let crossK: [Tensor], crossV: [Tensor]
    /// Per layer: (R, capacity, D) each.
    var selfK: [Tensor], selfV: [Tensor]
    /// (B, D): each request's newest context item, which every token adds with `newestItemQuery`.
    let newest: Tensor?
    /// (H, beamsPerRequest, Te): the cross-attention's recency bias (`recencyBias`), the same at every step.
    let crossBias: Tensor?
    /// Positions decoded so far.
    public private(set) var length = 0
    /// `reorder`'s copy of the rows' cached positions (up to R * capacity * D floats).
    private var scratch: [Float] = []
    var rows: Int { requests * beamsPerRequest }

    init(model: Seq2Seq, memory: Tensor, memoryValid: [UInt8], beamsPerRequest: Int, capacity: Int) {
        let g = Graph(training: false)
        let (b, te, d) = (memory.shape[0], memory.shape[1], model.config.width)
        (requests, self.beamsPerRequest, self.capacity, memoryLength, self.memoryValid) = (b, beamsPerRequest, capacity, te, memoryValid)
        let keysValues = model.contextKeysValues(g, memory: memory)
        (crossK, crossV) = (keysValues.map(\.k), keysValues.map(\.v))
        newest = model.config.newestItemQuery && te > 0
            ? g.reshape(g.slice(memory, axis: 1, (te - 1)..<te), [b, d]) : nil
        crossBias = model.recencyBias(g, blocks: 1, length: beamsPerRequest, context: te)
        let r = b * beamsPerRequest
        selfK = model.decoder.map { _ in Tensor(shape: [r, capacity, d]) }
        selfV = model.decoder.map { _ in Tensor(shape: [r, capacity, d]) }
    }

    /// Row r continues from row parents[r] (beam search's reordering): caches are gathered accordingly.
    /// Only the positions decoded so far move, through a scratch buffer kept between steps.
    public func reorder(_ parents: [Int]) {
        precondition(parents.count == rows, "reorder: \(parents.count) parents for \(rows) rows")
        for (r, parent) in parents.enumerated() {
            precondition(parent / beamsPerRequest == r / beamsPerRequest, "a beam cannot move to another request")
        }
        guard parents != Array(0..<rows), length > 0 else { return }
        let d = selfK[0].lastDimension
        let (stride, used) = (capacity * d, length * d)
        if scratch.count < rows * used { scratch = [Float](repeating: 0, count: rows * stride) }
        scratch.withUnsafeMutableBufferPointer { copy in
            let copy = copy.baseAddress!
            for cache in selfK + selfV {
                for r in 0..<rows { (copy + r * used).update(from: cache.data + r * stride, count: used) }
                for (r, parent) in parents.enumerated() where parent != r {
                    (cache.data + r * stride).update(from: copy + parent * used, count: used)
                }
            }
        }
    }

    func advance() { length += 1 }
}

extension Seq2Seq {
    /// Encodes B requests and prepares decoding of `beams` rows each, for at most `capacity` steps (`gaps`:
    /// see `context`).
    public func startDecoding(tokens: [Int32], valid: [UInt8], batch: Int, length: Int, beams: Int, capacity: Int, gaps: [Int32]? = nil) -> DecoderState {
        let g = Graph(training: false)
        let (memory, memoryValid) = context(g, tokens: tokens, valid: valid, batch: batch, length: length, gaps: gaps)
        return DecoderState(model: self, memory: memory, memoryValid: memoryValid, beamsPerRequest: beams, capacity: capacity)
    }

    /// Feeds one token per row (R tokens) and returns the next-token logits (R, V); the rows' keys and
    /// values join the cache. `weights` must come from this model.
    public func decodeStep(_ state: DecoderState, weights: DecodingWeights, tokens: [Int32]) -> Tensor {
        precondition(tokens.count == state.rows, "decodeStep: \(tokens.count) tokens for \(state.rows) rows")
        precondition(state.length < state.capacity, "decodeStep: the cache holds \(state.capacity) positions")
        let g = Graph(training: false)
        let (r, d, t) = (state.rows, config.width, state.length)
        var x = g.embedding(embedding, tokens, shape: [r, 1])
        if let newest = state.newest { x = g.add(x, g.embedding(newest, (0..<r).map { Int32($0 / state.beamsPerRequest) }, shape: [r, 1])) }
        let buckets = relativePositionBuckets(queries: 1, keys: t + 1, queryOffset: t, bidirectional: false,
                                              buckets: config.positionBuckets, maxDistance: config.maxDistance)
        let bias = g.relativePositionBias(decoderBias, buckets: buckets, queries: 1, keys: t + 1)
        for (i, layer) in decoder.enumerated() {
            let w = weights.layers[i]
            // Self-attention: this position's q, k, v; k and v appended to the cache; attend over t + 1 keys.
            let qkv = g.linear(g.rmsNorm(x, weight: layer.norm1), transposedWeight: w.qkv)  // (R, 1, 3D)
            for row in 0..<r {
                (state.selfK[i].data + (row * state.capacity + t) * d).update(from: qkv.data + row * 3 * d + d, count: d)
                (state.selfV[i].data + (row * state.capacity + t) * d).update(from: qkv.data + row * 3 * d + 2 * d, count: d)
            }
            let q = g.slice(qkv, axis: 2, 0..<d)
            let attended = g.cachedAttention(q: q, k: state.selfK[i], v: state.selfV[i], length: t + 1, heads: config.heads, bias: bias)
            x = g.add(x, g.linear(attended, transposedWeight: w.out))
            // Cross-attention: the beams of a request are its queries over the request's memory.
            let cq = g.reshape(g.linear(g.rmsNorm(x, weight: layer.norm2), transposedWeight: w.crossQ), [state.requests, state.beamsPerRequest, d])
            let crossed = g.attention(q: cq, k: state.crossK[i], v: state.crossV[i], heads: config.heads,
                                      mask: AttentionMask(keyValid: state.memoryValid), bias: state.crossBias)
            x = g.add(x, g.reshape(g.linear(crossed, transposedWeight: w.crossOut), [r, 1, d]))
            let flat = g.reshape(g.rmsNorm(x, weight: layer.norm3), [r, d])
            let experts = g.mixtureOfExperts(flat, logits: g.linear(flat, transposedWeight: w.router), w1: w.w1, w2: w.w2,
                                             routing: layer.moe.routing, transposedExperts: true).out
            x = g.add(x, g.reshape(experts, [r, 1, d]))
        }
        state.advance()
        return g.reshape(g.linear(g.rmsNorm(x, weight: decoderNorm), transposedWeight: weights.head), [r, config.vocabulary])
    }
}
