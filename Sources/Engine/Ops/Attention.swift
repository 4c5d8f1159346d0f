import CKernels

/// Which keys a query may attend to.
public struct AttentionMask: Sendable {
    /// Query i sees keys j <= i + (Tk - Tq): decoder self-attention, also when the keys include a cache.
    public var causal: Bool
    /// (B, Tk): 1 for a real key, 0 for padding. nil: every key is real.
    public var keyValid: [UInt8]?
    /// Block-causal cross-attention (0: off): queries come in blocks of `queryBlock`, and block n sees keys
    /// j <= n, so that the n-th block of a row (the tokens predicting the item after context item n)
    /// reads the context up to that item and no further.
    public var queryBlock: Int

    public init(causal: Bool = false, keyValid: [UInt8]? = nil, queryBlock: Int = 0) {
        precondition(queryBlock >= 0 && !(causal && queryBlock > 0), "attention: causal or block-causal, not both")
        self.causal = causal
        self.keyValid = keyValid
        self.queryBlock = queryBlock
    }

    var masks: Bool { causal || keyValid != nil || queryBlock > 0 }
}

/// The shapes of one multi-head attention call: q (B, Tq, H*D), k and v (B, Tk, H*D).
struct AttentionShape {
    let batch: Int, tq: Int, tk: Int, heads: Int, headDim: Int

    var width: Int { heads * headDim }
    var scale: Float { 1 / Float(headDim).squareRoot() }
    func q(_ b: Int, _ h: Int) -> Int { b * tq * width + h * headDim }
    func kv(_ b: Int, _ h: Int) -> Int { b * tk * width + h * headDim }
}

extension Graph {
    /// Multi-head scaled dot-product attention, fused: q (B, Tq, H*D), k and v (B, Tk, H*D) -> (B, Tq, H*D).
    /// `bias` (H, Tq, Tk), if given, is added to the scores (T5's relative position bias). Only one head's
    /// (Tq, Tk) scores exist at a time; backward recomputes them from the saved row log-sum-exps.
    public func attention(q: Tensor, k: Tensor, v: Tensor, heads: Int, mask: AttentionMask = AttentionMask(),
                          bias: Tensor? = nil) -> Tensor {
        precondition(q.shape.count == 3 && k.shape.count == 3 && v.shape == k.shape, "attention: q \(q.shape) k \(k.shape) v \(v.shape)")
        precondition(q.shape[0] == k.shape[0] && q.shape[2] == k.shape[2] && q.shape[2] % heads == 0, "attention: q \(q.shape) k \(k.shape), \(heads) heads")
        let s = AttentionShape(batch: q.shape[0], tq: q.shape[1], tk: k.shape[1], heads: heads, headDim: q.shape[2] / heads)
        if let bias { precondition(bias.shape == [heads, s.tq, s.tk], "attention: bias \(bias.shape), expected \([heads, s.tq, s.tk])") }
        precondition(mask.keyValid == nil || mask.keyValid!.count == s.batch * s.tk, "attention: keyValid needs B*Tk entries")
        let out = bias.map { output(q.shape, q, k, v, $0) } ?? output(q.shape, q, k, v)
        let lse = Storage(count: s.batch * heads * s.tq)
        attentionForward(out: out.data, lse: lse.data, q: q.data, k: k.data, v: v.data, bias: bias?.data, shape: s, mask: mask)
        record("attention", out) {
            attentionBackward(
                dq: q.requiresGrad ? q.gradBuffer() : nil, dk: k.requiresGrad ? k.gradBuffer() : nil,
                dv: v.requiresGrad ? v.gradBuffer() : nil, dbias: bias.flatMap { $0.requiresGrad ? $0.gradBuffer() : nil },
                dout: out.grad!, out: out.data, lse: lse.data, q: q.data, k: k.data, v: v.data, bias: bias?.data,
                shape: s, mask: mask)
        }
        return out
    }
}

extension Graph {
    /// Decoding attention, inference only: one query per row, q (R, 1, H*D), over the first `length`
    /// positions of that row's cache k, v (R, capacity, H*D); bias (H, 1, length) or nil. Rows run in parallel.
    public func cachedAttention(q: Tensor, k: Tensor, v: Tensor, length: Int, heads: Int, bias: Tensor?) -> Tensor {
        precondition(!training, "cachedAttention has no backward rule: use it in inference graphs")
        let (rows, width, capacity) = (q.shape[0], q.lastDimension, k.shape[1])
        precondition(k.shape == [rows, capacity, width] && v.shape == k.shape && length <= capacity, "cachedAttention: q \(q.shape) k \(k.shape)")
        let out = output([rows, 1, width], q)
        let headDim = width / heads
        // Rows in parallel only when there is enough work to pay for waking a worker.
        let workers = rows * length * width >= 1 << 18 ? Compute.threads : 1
        let chunk = (rows + workers - 1) / workers
        Compute.parallelFor((rows + chunk - 1) / chunk) { w in
            let r0 = w * chunk, n = min(chunk, rows - r0)
            let scratch = Storage(count: length, zeroed: false)
            ok_attention_decode(out.data + r0 * width, q.data + r0 * width, k.data + r0 * capacity * width, v.data + r0 * capacity * width,
                                bias?.data, n, length, capacity, heads, headDim, 1 / Float(headDim).squareRoot(), scratch.data)
        }
        return out
    }
}

/// S (Tq, Tk) = scale * Q_bh K_bh^T + bias_h, with masked entries set to -inf.
private func scores(_ scores: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                    bias: UnsafePointer<Float>?, b: Int, h: Int, shape s: AttentionShape, mask: AttentionMask) {
    gemm(transposeB: true, m: s.tq, n: s.tk, k: s.headDim, alpha: s.scale, a: q + s.q(b, h), lda: s.width,
         b: k + s.kv(b, h), ldb: s.width, c: scores, ldc: s.tk, split: false)
    if let bias { ok_accumulate(scores, bias + h * s.tq * s.tk, s.tq * s.tk) }
    guard mask.masks else { return }
    // Padding keys first (the same columns in every row), then each row's keys past its last visible one.
    if let valid = mask.keyValid {
        for j in 0..<s.tk where valid[b * s.tk + j] == 0 {
            for i in 0..<s.tq { scores[i * s.tk + j] = -.infinity }
        }
    }
    guard mask.causal || mask.queryBlock > 0 else { return }
    for i in 0..<s.tq {
        let last = mask.causal ? i + (s.tk - s.tq) : i / mask.queryBlock
        if last + 1 < s.tk { (scores + i * s.tk + max(0, last + 1)).update(repeating: -.infinity, count: s.tk - max(0, last + 1)) }
    }
}

/// The forward pass over raw buffers. lse (B, H, Tq) receives each row's log-sum-exp (-inf for a row
/// with no visible key, whose output is zero).
func attentionForward(out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>?, q: UnsafePointer<Float>,
                      k: UnsafePointer<Float>, v: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                      shape s: AttentionShape, mask: AttentionMask) {
    let parallel = s.batch * s.tq * s.tk * s.width >= 1 << 18
    Compute.parallelFor(s.batch * s.heads, parallel: parallel) { bh in
        let (b, h) = (bh / s.heads, bh % s.heads)
        let p = Storage(count: s.tq * s.tk, zeroed: false)
        scores(p.data, q: q, k: k, bias: bias, b: b, h: h, shape: s, mask: mask)
        ok_attention_softmax(p.data, lse.map { $0 + bh * s.tq }, s.tq, s.tk)
        gemm(m: s.tq, n: s.headDim, k: s.tk, a: p.data, lda: s.tk, b: v + s.kv(b, h), ldb: s.width,
             c: out + s.q(b, h), ldc: s.width, split: false)
    }
}

/// Backward: recomputes P from the scores and lse, then
/// dV += P^T dO; dP = dO V^T; dS = P (dP - rowsum(dO O)); dQ += scale dS K; dK += scale dS^T Q; dBias += dS.
private func attentionBackward(
    dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?, dv: UnsafeMutablePointer<Float>?,
    dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, out: UnsafePointer<Float>, lse: UnsafePointer<Float>,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    shape s: AttentionShape, mask: AttentionMask
) {
    // Heads of one batch entry write disjoint columns of dq, dk, dv; dbias is shared by the batch, so
    // workers split the heads and walk the batch in order.
    Compute.parallelFor(s.heads, parallel: s.batch * s.tq * s.tk * s.width >= 1 << 18) { h in
        let p = Storage(count: s.tq * s.tk, zeroed: false)
        let dp = Storage(count: s.tq * s.tk, zeroed: false)
        for b in 0..<s.batch {
            let bh = b * s.heads + h
            scores(p.data, q: q, k: k, bias: bias, b: b, h: h, shape: s, mask: mask)
            ok_attention_probs(p.data, lse + bh * s.tq, s.tq, s.tk)
            let (qo, kvo) = (s.q(b, h), s.kv(b, h))
            if let dv {
                gemm(transposeA: true, m: s.tk, n: s.headDim, k: s.tq, a: p.data, lda: s.tk, b: dout + qo, ldb: s.width,
                     beta: 1, c: dv + kvo, ldc: s.width, split: false)
            }
            gemm(transposeB: true, m: s.tq, n: s.tk, k: s.headDim, a: dout + qo, lda: s.width, b: v + kvo, ldb: s.width,
                 c: dp.data, ldc: s.tk, split: false)
            ok_attention_dscores(dp.data, p.data, dout + qo, out + qo, s.tq, s.tk, s.headDim, s.width)
            if let dbias { ok_accumulate(dbias + h * s.tq * s.tk, dp.data, s.tq * s.tk) }
            if let dq {
                gemm(m: s.tq, n: s.headDim, k: s.tk, alpha: s.scale, a: dp.data, lda: s.tk, b: k + kvo, ldb: s.width,
                     beta: 1, c: dq + qo, ldc: s.width, split: false)
            }
            if let dk {
                gemm(transposeA: true, m: s.tk, n: s.headDim, k: s.tq, alpha: s.scale, a: dp.data, lda: s.tk,
                     b: q + qo, ldb: s.width, beta: 1, c: dk + kvo, ldc: s.width, split: false)
            }
        }
    }
}
