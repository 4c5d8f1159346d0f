import Engine
import Models

/// OneRec's reward model: for a user and a session of items, target-aware item vectors (each item's
/// embedding times the user's, the user vector being 1 + a projection of the mean history item, so an
/// item's own vector is kept when the history says nothing), self-attention across the session's items, their sum, and four sigmoid
/// towers: session watch time (swt), view (vtr), follow (wtr) and like (ltr). Trained with BCE per tower.
///
/// Labels from a logged session (the items the user reached): swt = watched time / the items' total
/// duration, in [0, 1]; vtr = share of items watched at least halfway; wtr = 1 if any item was followed;
/// ltr = 1 if any was liked.
public final class RewardModel {
    public struct Config: Sendable {
        public var items = 2000
        public var width = 32
        public var heads = 2
        /// Newest history items forming the user vector.
        public var historyLength = 20
        /// Longest session scored.
        public var sessionLength = 5
        public init() {}
    }

    /// Tower order in outputs and labels.
    public static let towers = ["swt", "vtr", "wtr", "ltr"]

    public let config: Config
    public let parameters: ParameterStore
    /// Item id -> embedding row; nil: ids are rows (ids below `items`).
    public let rows: ItemRows?
    let items: Tensor, user: Tensor, qkv: Tensor, out: Tensor
    let hidden: [(w: Tensor, b: Tensor, head: Tensor, headBias: Tensor)]

    public init(config: Config, seed: UInt64, rows: ItemRows? = nil) {
        precondition(rows == nil || rows!.capacity == config.items, "item rows sized for another reward model")
        self.config = config
        self.rows = rows
        let p = ParameterStore(seed: seed)
        let d = config.width
        let std = 1 / Float(d).squareRoot()
        items = p.normal("items", [config.items + 1, d], std: 0.3)  // row 0: padding
        user = p.normal("user", [d, d], std: std)
        qkv = p.normal("attention.qkv", [3 * d, d], std: std)
        out = p.normal("attention.out", [d, d], std: std)
        hidden = RewardModel.towers.map { name in
            (p.normal("\(name).w", [d, d], std: std), p.constant("\(name).b", [d], 0), p.normal("\(name).head", [1, d], std: std),
             p.constant("\(name).head.b", [1], 0))
        }
        parameters = p
    }

    /// Starts item vectors from content embeddings (each scaled to the initial norm), so the model begins
    /// knowing which items are alike; items without one keep their random start. Dimensions must match.
    public func initializeItems(from embeddings: [UInt64: [Float]]) {
        let d = config.width
        for (id, v) in embeddings {
            let r = Int(row(id))
            guard r > 0 else { continue }
            precondition(v.count == d, "item \(id): embedding of \(v.count), the reward model is \(d) wide")
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0 else { continue }
            let scale = 0.3 * Float(d).squareRoot() / norm
            for k in 0..<d { items[r * d + k] = v[k] * scale }
        }
    }

    /// Histories (newest last) and sessions of item ids (< items), batched.
    public struct Batch {
        public var histories: [[UInt64]]
        public var sessions: [[UInt64]]
        /// (B * 4) labels in tower order, when training.
        public var labels: [Float]?
        public init(histories: [[UInt64]], sessions: [[UInt64]], labels: [Float]? = nil) {
            precondition(histories.count == sessions.count && (labels == nil || labels!.count == sessions.count * 4))
            (self.histories, self.sessions, self.labels) = (histories, sessions, labels)
        }
    }

    /// (B, 4) tower logits.
    public func logits(_ g: Graph, _ batch: Batch) -> Tensor {
        let (b, d, h, m) = (batch.sessions.count, config.width, config.historyLength, config.sessionLength)
        // User: the mean of the newest history items' embeddings, projected.
        let historyIDs = batch.histories.flatMap { ids -> [Int32] in
            let kept = ids.suffix(h).map(row)
            return [Int32](repeating: 0, count: h - kept.count) + kept
        }
        let historyWeights = batch.histories.flatMap { ids -> [Float] in
            let n = min(ids.count, h)
            return [Float](repeating: 0, count: h - n) + [Float](repeating: 1 / Float(max(n, 1)), count: n)
        }
        let historyVectors = g.embedding(items, historyIDs, shape: [b, h])                         // (B, H, D)
        let weighted = g.mul(historyVectors, expand(historyWeights, b: b, rows: h, d: d))
        // 1 + projection: with no history (or before training) every item keeps its own vector.
        let u = g.add(g.linear(g.sumLast(g.transpose(weighted, 1, 2)), user), Tensor(shape: [d], values: [Float](repeating: 1, count: d)))  // (B, D)
        // Target-aware session items: v_i * u.
        let sessionIDs = batch.sessions.flatMap { ids -> [Int32] in
            precondition(ids.count <= m, "session of \(ids.count) items, the model scores at most \(m)")
            return ids.map(row) + [Int32](repeating: 0, count: m - ids.count)
        }
        let valid = batch.sessions.flatMap { ids in [UInt8](repeating: 1, count: ids.count) + [UInt8](repeating: 0, count: m - ids.count) }
        let v = g.embedding(items, sessionIDs, shape: [b, m])                                      // (B, M, D)
        let e = g.mul(v, g.concat([Tensor](repeating: g.reshape(u, [b, 1, d]), count: m), axis: 1))
        let projected = g.linear(e, qkv)
        let attended = g.linear(g.attention(q: g.slice(projected, axis: 2, 0..<d), k: g.slice(projected, axis: 2, d..<2 * d),
                                            v: g.slice(projected, axis: 2, 2 * d..<3 * d), heads: config.heads,
                                            mask: AttentionMask(keyValid: valid)), out)
        let mixed = g.add(e, attended)
        // Sum over the session's real items.
        let summed = g.sumLast(g.transpose(g.mul(mixed, expand(valid.map(Float.init), b: b, rows: m, d: d)), 1, 2))  // (B, D)
        let outputs = hidden.map { t in g.linear(g.relu(g.linear(summed, t.w, t.b)), t.head, t.headBias) }           // 4 x (B, 1)
        return g.concat(outputs, axis: 1)                                                                            // (B, 4)
    }

    /// Mean BCE over the four towers.
    public func loss(_ g: Graph, _ batch: Batch) -> Tensor {
        guard let labels = batch.labels else { preconditionFailure("reward model loss needs labels") }
        return g.binaryCrossEntropy(logits(g, batch), labels: labels)
    }

    /// Tower probabilities (B, 4) for scoring sessions.
    public func predict(_ batch: Batch) -> [[Float]] {
        let g = Graph(training: false)
        let p = g.sigmoid(logits(g, batch)).values
        return (0..<batch.sessions.count).map { Array(p[($0 * 4)..<($0 * 4 + 4)]) }
    }

    /// An item's embedding row: 1 + its id, or its row in `rows`; 0 (the shared unknown-item row) for an
    /// item beyond the table.
    func row(_ id: UInt64) -> Int32 {
        if let rows { return rows.row(id) }
        return id < UInt64(config.items) ? Int32(id) + 1 : 0
    }

    /// (B, rows, D) constant with each row's weight repeated across D.
    private func expand(_ weights: [Float], b: Int, rows: Int, d: Int) -> Tensor {
        Tensor(shape: [b, rows, d], values: weights.flatMap { [Float](repeating: $0, count: d) })
    }
}

/// How the reward model's towers combine into one session reward for alignment: a weighted sum of the
/// tower probabilities (defaults favour watch time, as OneRec's reward does).
public struct RewardWeights: Sendable {
    public var swt: Float = 1, vtr: Float = 0.5, wtr: Float = 0.5, ltr: Float = 0.5
    public init() {}
    public func reward(_ towers: [Float]) -> Float { swt * towers[0] + vtr * towers[1] + wtr * towers[2] + ltr * towers[3] }
}

extension RewardModel {
    /// Trains on logged sessions: `steps` AdamW steps on batches drawn at random; returns the losses.
    @discardableResult
    public func fit(_ examples: [RewardExample], steps: Int, batchSize: Int = 64, learningRate: Float = 3e-3, seed: UInt64 = 1) -> [Float] {
        precondition(!examples.isEmpty, "the reward model needs logged sessions")
        var config = AdamW.Config()
        config.learningRate = learningRate
        let optimizer = AdamW(parameters: parameters.tensors, config: config)
        var rng = SplitMix64(seed: seed)
        var losses: [Float] = []
        for step in 0..<steps {
            let chunk = (0..<batchSize).map { _ in examples[Int(rng.next() % UInt64(examples.count))] }
            let g = Graph(seed: seed &+ UInt64(step))
            let loss = self.loss(g, Batch(histories: chunk.map(\.history), sessions: chunk.map(\.session), labels: chunk.flatMap(\.labels)))
            g.backward(loss)
            optimizer.update()
            optimizer.zeroGradients()
            losses.append(loss[0])
        }
        return losses
    }
}
