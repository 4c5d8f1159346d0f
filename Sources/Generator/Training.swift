import Engine
import Models

/// One training example: a user's history before a point in time and the session that followed.
public struct SessionExample: Sendable {
    public let history: [UInt64]
    public let session: [UInt64]
    /// Each history item's `TimeGap` bucket, for a model with time gaps (nil: none known).
    public let gaps: [Int32]?
    public init(history: [UInt64], session: [UInt64], gaps: [Int32]? = nil) {
        precondition(gaps.map { $0.count == history.count } ?? true, "one gap bucket per history item")
        self.history = history
        self.session = session
        self.gaps = gaps
    }
}

/// Which sessions are worth learning from (OneRec trains on high-quality sessions only).
public struct SessionFilter: Sendable {
    /// At least this many items in the session. Default 1.
    public var minimumItems = 1
    /// At least this many of its items with a positive signal (like, follow, share, a high rating). Default 0.
    public var minimumPositives = 0
    public init() {}

    public func accepts(items: Int, positives: Int) -> Bool { items >= minimumItems && positives >= minimumPositives }
}

/// Turns examples into padded batches and trains a `Seq2Seq` with next-token loss.
public final class GeneratorTrainer {
    public let model: Seq2Seq
    public let tokenizer: ItemTokenizer
    public let optimizer: AdamW
    /// History items fed to the encoder (the paper: 256).
    public let maxHistory: Int
    /// Items per session (the paper: 5).
    public let sessionItems: Int

    public init(model: Seq2Seq, tokenizer: ItemTokenizer, maxHistory: Int, sessionItems: Int, optimizer: AdamW.Config = AdamW.Config()) {
        precondition(model.config.vocabulary >= tokenizer.vocabulary, "model vocabulary \(model.config.vocabulary) < \(tokenizer.vocabulary) tokens")
        precondition(model.config.itemVocabulary == tokenizer.itemVocabulary
                     && (tokenizer.itemVocabulary == 0 || model.config.vocabulary == tokenizer.vocabulary),
                     "the model's item-ID rows (\(model.config.itemVocabulary)) differ from the tokenizer's (\(tokenizer.itemVocabulary))")
        self.model = model
        self.tokenizer = tokenizer
        self.maxHistory = maxHistory
        self.sessionItems = sessionItems
        self.optimizer = AdamW(parameters: model.parameters.tensors, config: optimizer)
    }

    /// A padded batch: encoder tokens padded (and masked) to the longest history; sessions shorter than
    /// `sessionItems` padded with no loss. The batch has gaps when every example has (a model with time gaps
    /// needs them).
    public func batch(_ examples: [SessionExample]) -> Seq2Seq.Batch {
        let contexts = examples.map { tokenizer.historyContext($0.history, gaps: $0.gaps, maxItems: maxHistory) }
        let te = max(1, contexts.map(\.tokens.count).max() ?? 1)
        let td = tokenizer.sessionLength(items: sessionItems)
        let group = tokenizer.levels + 1
        var gaps: [Int32]? = contexts.allSatisfy { $0.gaps != nil } ? [] : nil
        var enc: [Int32] = [], valid: [UInt8] = [], inputs: [Int32] = [], targets: [Int32] = []
        for ((h, g), e) in zip(contexts, examples) {
            // Left-padded so that the newest item is always last.
            enc += [Int32](repeating: ItemTokenizer.pad, count: te - h.count) + h
            if let g { gaps! += [Int32](repeating: 0, count: (te - h.count) / group) + g }
            valid += [UInt8](repeating: 0, count: te - h.count) + [UInt8](repeating: 1, count: h.count)
            let (i, t) = tokenizer.sessionTokens(Array(e.session.prefix(sessionItems)))
            inputs += i + [Int32](repeating: ItemTokenizer.pad, count: td - i.count)
            targets += t + [Int32](repeating: -1, count: td - t.count)
        }
        return Seq2Seq.Batch(batch: examples.count, encoderLength: te, decoderLength: td, encoderTokens: enc,
                             encoderValid: valid, decoderInputs: inputs, targets: targets, encoderGaps: gaps)
    }

    /// Sequence training's batch (lazy decoder): for each item sequence (oldest first), its newest
    /// `maxHistory + 1` items; every item but the last is a context position, and its block holds the
    /// session of up to `sessionItems` items after it. Rows are left-padded to the longest. `gaps` (for a
    /// model with time gaps): each item's `TimeGap` bucket, one array per sequence.
    public func sequenceBatch(_ sequences: [[UInt64]], gaps: [[Int32]]? = nil) -> Seq2Seq.SequenceBatch {
        precondition(gaps.map { zip($0, sequences).allSatisfy { $0.count == $1.count } && $0.count == sequences.count } ?? true,
                     "one gap bucket per item")
        let windows = sequences.map { $0.suffix(maxHistory + 1) }
        var contextGaps: [Int32]? = gaps == nil ? nil : []
        precondition(windows.allSatisfy { $0.count >= 2 }, "sequence training needs sequences of at least two items")
        let items = windows.map { $0.count - 1 }.max()!
        let group = tokenizer.levels + 1, td = tokenizer.sessionLength(items: sessionItems)
        var context: [Int32] = [], valid: [UInt8] = [], inputs: [Int32] = [], targets: [Int32] = []
        for (row, w) in windows.enumerated() {
            let padding = items - (w.count - 1)
            if let gaps { contextGaps! += [Int32](repeating: 0, count: padding) + gaps[row].suffix(w.count).dropLast() }
            context += [Int32](repeating: ItemTokenizer.pad, count: padding * group) + tokenizer.historyTokens(w.dropLast(), maxItems: items)
            valid += [UInt8](repeating: 0, count: padding * group) + [UInt8](repeating: 1, count: (w.count - 1) * group)
            inputs += [Int32](repeating: ItemTokenizer.pad, count: padding * td)
            targets += [Int32](repeating: -1, count: padding * td)
            for n in w.startIndex..<(w.endIndex - 1) {
                let (i, t) = tokenizer.sessionTokens(Array(w[(n + 1)..<min(w.endIndex, n + 1 + sessionItems)]))
                inputs += i + [Int32](repeating: ItemTokenizer.pad, count: td - i.count)
                targets += t + [Int32](repeating: -1, count: td - t.count)
            }
        }
        return Seq2Seq.SequenceBatch(batch: windows.count, items: items, blockLength: td, contextTokens: context,
                                  contextValid: valid, decoderInputs: inputs, targets: targets, contextGaps: contextGaps)
    }

    /// One optimisation step over whole item sequences (lazy decoder); returns the cross-entropy
    /// and the tokens processed.
    @discardableResult
    public func sequenceStep(_ sequences: [[UInt64]], gaps: [[Int32]]? = nil, learningRate: Float? = nil, seed: UInt64 = 0) -> (loss: Float, tokens: Int) {
        let b = sequenceBatch(sequences, gaps: gaps)
        return (optimize(learningRate: learningRate, seed: seed) { model.sequenceLoss($0, b) }, b.contextTokens.count + b.decoderInputs.count)
    }

    /// Saves the model, the optimiser's moments and step, and the model's shape to a checkpoint, with the
    /// caller's `metadata` (e.g. the codebook version).
    public func save(to path: String, metadata extra: [String: String] = [:]) throws {
        let shape = model.config.shape
        try Safetensors.save(model.parameters.tensors + optimizer.state.tensors,
                             metadata: extra.merging(["format": "onerec.generator", "step": "\(optimizer.step)", "shape": shape]) { $1 },
                             to: path)
    }

    /// Continues from a checkpoint written by `save`: parameters, moments and step restored. A checkpoint
    /// of another model shape, or a damaged one, is refused and nothing changes. Returns its metadata.
    @discardableResult
    public func resume(from path: String) throws -> [String: String] {
        let (tensors, metadata) = try Safetensors.load(path)
        guard metadata["format"] == "onerec.generator", let step = metadata["step"].flatMap(Int.init) else {
            throw CheckpointError("\(path) is not a generator checkpoint")
        }
        try model.parameters.restore(tensors, optimizer: optimizer, step: step)
        return metadata
    }

    /// One optimisation step; returns the cross-entropy and the tokens processed.
    @discardableResult
    public func step(_ examples: [SessionExample], learningRate: Float? = nil, seed: UInt64 = 0) -> (loss: Float, tokens: Int) {
        let b = batch(examples)
        return (optimize(learningRate: learningRate, seed: seed) { model.loss($0, b) }, b.batch * (b.encoderLength + b.decoderLength))
    }

    /// Back-propagates `loss`'s total, updates the parameters and returns its cross-entropy.
    private func optimize(learningRate: Float?, seed: UInt64, _ loss: (Graph) -> (total: Tensor, crossEntropy: Tensor)) -> Float {
        let g = Graph(seed: seed)
        let (total, ce) = loss(g)
        g.backward(total)
        optimizer.update(learningRate: learningRate)
        optimizer.zeroGradients()
        return ce[0]
    }
}
