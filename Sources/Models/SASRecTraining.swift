import Engine

extension SASRec {
    /// Training schedule: full passes over the sequences in shuffled batches, AdamW without decay.
    public struct Training: Sendable {
        public var epochs = 40
        public var batch = 64
        public var learningRate: Float = 1e-3
        public var seed: UInt64 = 1
        public init() {}
    }

    /// Trains on item sequences (ids `0..<config.items`, oldest first; the newest `maxLength + 1` of
    /// each are used), calling `epochDone(epoch, mean loss)` after each pass; training stops early when
    /// it returns false.
    public func train(on sequences: [[Int32]], _ training: Training, epochDone: (Int, Float) -> Bool = { _, _ in true }) {
        var oc = AdamW.Config()
        oc.learningRate = training.learningRate
        oc.weightDecay = 0
        let optimizer = AdamW(parameters: parameters.tensors, config: oc)
        let usable = sequences.filter { $0.count >= 2 }
        precondition(!usable.isEmpty, "SASRec needs sequences of at least two items")
        // Batches of similar lengths, each padded to its longest sequence (positions are counted from the
        // newest item, so padding less changes nothing else).
        var buckets = LengthBuckets(lengths: usable.map { min($0.count, config.maxLength + 1) }, batch: training.batch, seed: training.seed)
        for epoch in 0..<training.epochs {
            var total: Float = 0, batches = 0
            for chunk in 0..<buckets.batchesPerEpoch {
                let rows = buckets.next()
                let t = rows.map { buckets.lengths[$0] - 1 }.max()!
                var inputs: [Int32] = [], targets: [Int32] = []
                for r in rows {
                    let s = usable[r].suffix(t + 1).map { $0 + 1 }  // ids shifted: 0 is padding
                    let x = Array(s.dropLast()), y = Array(s.dropFirst())
                    inputs += [Int32](repeating: 0, count: t - x.count) + x
                    targets += [Int32](repeating: -1, count: t - y.count) + y
                }
                let g = Graph(seed: training.seed &+ UInt64(epoch * 100_000 + chunk))
                let loss = self.loss(g, sequences: inputs, targets: targets, batch: rows.count, length: t)
                g.backward(loss)
                optimizer.update()
                optimizer.zeroGradients()
                total += loss[0]
                batches += 1
            }
            guard epochDone(epoch, total / Float(batches)) else { return }
        }
    }

    /// Scores of every item (index = item id) after `history` (oldest first, at least one item).
    public func itemScores(history: [Int32]) -> [Float] {
        let t = min(history.count, config.maxLength)
        precondition(t > 0, "SASRec scores need a history")
        return Array(scores(sequences: history.suffix(t).map { $0 + 1 }, batch: 1, length: t).values.dropFirst())
    }
}
