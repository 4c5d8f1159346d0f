import Engine

extension SASRec {
    /// Training schedule: full passes over the sequences in shuffled batches, AdamW without decay.
    public struct Training: Sendable {
        public var epochs = 40
        public var batch = 64
        /// The learning rate, or with `cosine` its peak.
        public var learningRate: Float = 1e-3
        /// A linear warm-up over the first 5% of `epochs`' batches, then a cosine decay to a tenth of the
        /// peak at the last one (the generator's schedule in `eval`); false: constant.
        public var cosine = false
        /// Keep an exponential moving average of the weights with this decay per batch (`WeightAverage`):
        /// `epochDone` sees the average, and training ends with it; nil: the weights as trained.
        public var average: Float?
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
        let steps = training.epochs * buckets.batchesPerEpoch
        let schedule = training.cosine
            ? LearningRateSchedule.warmupCosine(peak: training.learningRate, warmup: steps / 20, total: steps, floor: 0.1)
            : .constant(training.learningRate)
        let average = training.average.map { WeightAverage(parameters: parameters.tensors, decay: $0) }
        defer { average?.swap() }
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
                optimizer.update(learningRate: schedule.rate(at: epoch * buckets.batchesPerEpoch + chunk))
                average?.update()
                optimizer.zeroGradients()
                total += loss[0]
                batches += 1
            }
            average?.swap()
            let going = epochDone(epoch, total / Float(batches))
            average?.swap()
            guard going else { return }
        }
    }

    /// Scores of every item (index = item id) after `history` (oldest first, at least one item).
    public func itemScores(history: [Int32]) -> [Float] {
        let t = min(history.count, config.maxLength)
        precondition(t > 0, "SASRec scores need a history")
        return Array(scores(sequences: history.suffix(t).map { $0 + 1 }, batch: 1, length: t).values.dropFirst())
    }
}
