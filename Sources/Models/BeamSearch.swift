import Engine

/// One finished beam: its tokens (after the start token) and its summed log-probability.
public struct Hypothesis: Sendable, Equatable {
    public let tokens: [Int32]
    public let logProbability: Float
}

extension Seq2Seq {
    /// Beam search for one request: `beam` rows decoded in lock-step with the KV cache for `steps` tokens
    /// after `start`. Returns the beams, best first. `weights` must come from this model.
    ///
    /// The model's plain beam search over its whole vocabulary, with no notion of items: what
    /// `onerec bench train` times against PyTorch's beam search of the same reference model. Serving and
    /// alignment generate sessions with `SessionDecoder` (Generator), whose beams follow the codebook's
    /// trie, close items with [BOS] and skip excluded items.
    public func beamSearch(weights: DecodingWeights, tokens: [Int32], valid: [UInt8], beam: Int, steps: Int, start: Int32) -> [Hypothesis] {
        let state = startDecoding(tokens: tokens, valid: valid, batch: 1, length: tokens.count, beams: beam, capacity: steps)
        let v = config.vocabulary
        var sequences = [[Int32]](repeating: [], count: beam)
        var scores = [Float](repeating: 0, count: beam)
        var input = [Int32](repeating: start, count: beam)
        for step in 0..<steps {
            let logp = Graph(training: false).logSoftmax(decodeStep(state, weights: weights, tokens: input))
            // Candidates: every (row, token) by score + log softmax; at the first step the rows are
            // identical, so only row 0 proposes.
            var best = TopK<Int>(capacity: beam)
            for row in 0..<(step == 0 ? 1 : beam) {
                let l = logp.data + row * v
                for j in 0..<v where !best.isFull || scores[row] + l[j] > best.threshold { best.offer(scores[row] + l[j], row * v + j) }
            }
            let chosen = best.sortedDescending()
            let parents = chosen.map { $0.payload / v }
            sequences = chosen.map { sequences[$0.payload / v] + [Int32($0.payload % v)] }
            scores = chosen.map(\.score)
            input = chosen.map { Int32($0.payload % v) }
            state.reorder(parents)
        }
        return zip(sequences, scores).map { Hypothesis(tokens: $0, logProbability: $1) }
    }
}
