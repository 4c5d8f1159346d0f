import CKernels
import Glibc

/// How a mixture-of-experts layer routes tokens.
public struct Routing: Sendable {
    /// Experts per token (the paper: 2 of 24).
    public var topK: Int
    /// Each expert takes at most ceil(capacityFactor * tokens * topK / experts) tokens, in token order;
    /// later assignments are dropped (the token keeps its other experts). nil: no limit.
    public var capacityFactor: Float?
    /// Per-expert bias added to the router logits for *selection only* (auxiliary-loss-free balancing,
    /// DeepSeek-V3): the caller raises the bias of under-loaded experts between steps. nil: none.
    public var selectionBias: [Float]?

    public init(topK: Int, capacityFactor: Float? = nil, selectionBias: [Float]? = nil) {
        self.topK = topK
        self.capacityFactor = capacityFactor
        self.selectionBias = selectionBias
    }
}

/// Which tokens each expert took, and with which gate.
public struct RoutingTable: Sendable {
    /// For each expert, its assignments in token order: (token, gate slot).
    public let assignments: [[(token: Int, slot: Int)]]
    /// (N, topK) chosen experts; -1 where an assignment was dropped for capacity.
    public let chosen: [Int]
    /// Tokens each expert processed.
    public var load: [Int] { assignments.map(\.count) }
}

extension Graph {
    /// A sparse mixture of GELU experts over x (N, C), routed by `logits` (N, E) (usually `linear(x, router)`).
    /// w1 (E, F, C) and w2 (E, C, F) are the experts' two matrices. Each token's output is the sum over its
    /// top-k experts of softmax(selected logits) * expert(x). Ties go to the lower expert index.
    /// With `transposedExperts` (inference only) w1 is (E, C, F) and w2 (E, F, C), each expert's matrices
    /// transposed: faster when an expert sees few tokens (decoding).
    public func mixtureOfExperts(_ x: Tensor, logits: Tensor, w1: Tensor, w2: Tensor, routing: Routing,
                                 transposedExperts: Bool = false) -> (out: Tensor, table: RoutingTable) {
        let (n, c) = (x.rows, x.lastDimension)
        let e = w1.shape[0]
        let f = transposedExperts ? w1.shape[2] : w1.shape[1]
        precondition(transposedExperts ? (w1.shape == [e, c, f] && w2.shape == [e, f, c]) : (w1.shape == [e, f, c] && w2.shape == [e, c, f]),
                     "mixtureOfExperts: w1 \(w1.shape) w2 \(w2.shape) for width \(c)")
        precondition(!transposedExperts || !training, "mixtureOfExperts: transposed experts are for inference")
        precondition(logits.shape == [n, e], "mixtureOfExperts: logits \(logits.shape), expected \([n, e])")
        precondition(routing.topK >= 1 && routing.topK <= e, "mixtureOfExperts: top-\(routing.topK) of \(e) experts")
        let k = routing.topK

        // Route: top-k by (logit + selection bias), gates = softmax of the chosen logits.
        var selected = [Int](repeating: 0, count: n * k)
        var chosen = [Int](repeating: -1, count: n * k)
        var gates = [Float](repeating: 0, count: n * k)
        let capacity = routing.capacityFactor.map { Int((Float(n * k) * $0 / Float(e)).rounded(.up)) } ?? Int.max
        var assignments = [[(token: Int, slot: Int)]](repeating: [], count: e)
        for t in 0..<n {
            let row = logits.data + t * e
            let picked = topK(row, count: e, k: k, bias: routing.selectionBias)
            let mx = picked.map { row[$0] }.max()!
            var sum: Float = 0
            for (s, j) in picked.enumerated() { gates[t * k + s] = expf(row[j] - mx); sum += gates[t * k + s] }
            for (s, j) in picked.enumerated() {
                gates[t * k + s] /= sum
                selected[t * k + s] = j
                if assignments[j].count < capacity {
                    assignments[j].append((t, s))
                    chosen[t * k + s] = j
                }
            }
        }

        // Experts: gather their rows, A = X W1^T, H = gelu(A), Y = H W2^T; combine with the gates.
        let offsets = assignments.reduce(into: [0]) { $0.append($0.last! + $1.count) }
        let rows = offsets.last!
        // Every row of these is written below: no zeroing.
        let xs = Storage(count: rows * c, zeroed: false), a = Storage(count: rows * f, zeroed: false)
        let h = Storage(count: rows * f, zeroed: false), ys = Storage(count: rows * c, zeroed: false)
        let out = output(x.shape, x, logits, w1, w2)
        out.fill(0)  // experts accumulate into it
        for j in 0..<e where !assignments[j].isEmpty {
            let (o, m) = (offsets[j], assignments[j].count)
            for (r, (t, _)) in assignments[j].enumerated() { (xs.data + (o + r) * c).update(from: x.data + t * c, count: c) }
            gemm(transposeB: !transposedExperts, m: m, n: f, k: c, a: xs.data + o * c, b: w1.data + j * f * c, c: a.data + o * f)
            ok_gelu_forward(h.data + o * f, a.data + o * f, m * f)
            gemm(transposeB: !transposedExperts, m: m, n: c, k: f, a: h.data + o * f, b: w2.data + j * c * f, c: ys.data + o * c)
            for (r, (t, s)) in assignments[j].enumerated() {
                ok_accumulate_scaled(out.data + t * c, ys.data + (o + r) * c, gates[t * k + s], c)
            }
        }
        let table = RoutingTable(assignments: assignments, chosen: chosen)

        record("mixtureOfExperts", out) {
            let dout = out.grad!
            var dgates = [Float](repeating: 0, count: n * k)
            // dA accumulates (gelu's backward adds), so it starts at zero; the others are written whole.
            let dy = Storage(count: rows * c, zeroed: false), dh = Storage(count: rows * f, zeroed: false)
            let da = Storage(count: rows * f), dxs = Storage(count: rows * c, zeroed: false)
            for j in 0..<e where !assignments[j].isEmpty {
                let (o, m) = (offsets[j], assignments[j].count)
                for (r, (t, s)) in assignments[j].enumerated() {
                    let g = gates[t * k + s]
                    let dyr = dy.data + (o + r) * c
                    var dot: Float = 0
                    for i in 0..<c {
                        dyr[i] = g * dout[t * c + i]
                        dot += dout[t * c + i] * ys.data[(o + r) * c + i]
                    }
                    dgates[t * k + s] = dot
                }
                // dW2 += dY^T H; dH = dY W2; dA = gelu'(A) dH; dW1 += dA^T X; dX = dA W1.
                if w2.requiresGrad {
                    gemm(transposeA: true, m: c, n: f, k: m, a: dy.data + o * c, b: h.data + o * f, beta: 1, c: w2.gradBuffer() + j * c * f)
                }
                gemm(m: m, n: f, k: c, a: dy.data + o * c, b: w2.data + j * c * f, c: dh.data + o * f)
                ok_gelu_backward(da.data + o * f, a.data + o * f, dh.data + o * f, m * f)
                if w1.requiresGrad {
                    gemm(transposeA: true, m: f, n: c, k: m, a: da.data + o * f, b: xs.data + o * c, beta: 1, c: w1.gradBuffer() + j * f * c)
                }
                if x.requiresGrad {
                    gemm(m: m, n: c, k: f, a: da.data + o * f, b: w1.data + j * f * c, c: dxs.data + o * c)
                    let dx = x.gradBuffer()
                    for (r, (t, _)) in assignments[j].enumerated() { ok_accumulate(dx + t * c, dxs.data + (o + r) * c, c) }
                }
            }
            // Gates are a softmax over each token's chosen logits: dlogit = gate (dgate - sum gate dgate).
            // A dropped assignment still shares its token's softmax, so it takes part with dgate = 0.
            guard logits.requiresGrad else { return }
            let dl = logits.gradBuffer()
            for t in 0..<n {
                var dot: Float = 0
                for s in 0..<k { dot += gates[t * k + s] * dgates[t * k + s] }
                for s in 0..<k { dl[t * e + selected[t * k + s]] += gates[t * k + s] * (dgates[t * k + s] - dot) }
            }
        }
        return (out, table)
    }

    /// Switch-Transformer load-balancing loss: E * sum_e f_e P_e, where f_e is the share of assignments
    /// expert e took (no gradient) and P_e the mean router probability of e over the tokens.
    /// Minimal (1) when routing is uniform.
    public func balanceLoss(logits: Tensor, table: RoutingTable) -> Tensor {
        let (n, e) = (logits.rows, logits.lastDimension)
        let probs = Storage(count: n * e, zeroed: false)
        ok_softmax_forward(probs.data, logits.data, n, e)
        let total = Float(max(table.load.reduce(0, +), 1))
        let share = table.load.map { Float($0) / total }
        let y = output([], logits)
        var loss: Float = 0
        for t in 0..<n { for j in 0..<e { loss += share[j] * probs.data[t * e + j] } }
        y.data[0] = Float(e) * loss / Float(n)
        record("balanceLoss", y) {
            let g = y.grad![0] * Float(e) / Float(n)
            let dprobs = Storage(count: n * e, zeroed: false)
            for t in 0..<n { for j in 0..<e { dprobs.data[t * e + j] = g * share[j] } }
            ok_softmax_backward(logits.gradBuffer(), probs.data, dprobs.data, n, e)
        }
        return y
    }
}

/// The indices of the k largest `row[j] + bias[j]`, largest first; ties go to the lower index.
func topK(_ row: UnsafePointer<Float>, count: Int, k: Int, bias: [Float]?) -> [Int] {
    var picked: [Int] = []
    picked.reserveCapacity(k)
    for _ in 0..<k {
        var best = -1
        var bestScore = -Float.infinity
        for j in 0..<count where !picked.contains(j) {
            let score = row[j] + (bias?[j] ?? 0)
            if best < 0 || score > bestScore { (best, bestScore) = (j, score) }
        }
        picked.append(best)
    }
    return picked
}
