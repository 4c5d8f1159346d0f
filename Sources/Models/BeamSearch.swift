import Engine

/// One finished beam: its tokens (after the start token) and its summed log-probability.
public struct Hypothesis: Sendable, Equatable {
    public let tokens: [Int32]
    public let logProbability: Float
}

extension Seq2Seq {
    /// Beam search for one request: `beam` rows decoded in lock-step with the KV cache for `steps` tokens
    /// after `start`. Returns the beams, best first. `weights` must come from this model.
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
            var best = TopK(capacity: beam)
            for row in 0..<(step == 0 ? 1 : beam) {
                let l = logp.data + row * v
                for j in 0..<v where !best.isFull || scores[row] + l[j] >= best.threshold { best.offer(scores[row] + l[j], row * v + j) }
            }
            let chosen = best.sortedDescending()
            let parents = chosen.map { $0.index / v }
            sequences = chosen.map { sequences[$0.index / v] + [Int32($0.index % v)] }
            scores = chosen.map(\.score)
            input = chosen.map { Int32($0.index % v) }
            state.reorder(parents)
        }
        return zip(sequences, scores).map { Hypothesis(tokens: $0, logProbability: $1) }
    }
}

/// The `capacity` largest (score, index) pairs offered, by a min-heap; ties keep the lower index.
struct TopK {
    let capacity: Int
    private var heap: [(score: Float, index: Int)] = []

    init(capacity: Int) { self.capacity = capacity }

    var isFull: Bool { heap.count == capacity }
    /// The lowest score kept (only meaningful when full): a lower offer cannot enter.
    var threshold: Float { heap[0].score }

    /// True if a ranks below b (lower score, or equal score and higher index).
    private func below(_ a: (score: Float, index: Int), _ b: (score: Float, index: Int)) -> Bool {
        a.score < b.score || (a.score == b.score && a.index > b.index)
    }

    mutating func offer(_ score: Float, _ index: Int) {
        let item = (score, index)
        if heap.count < capacity {
            heap.append(item)
            var i = heap.count - 1
            while i > 0, below(heap[i], heap[(i - 1) / 2]) { heap.swapAt(i, (i - 1) / 2); i = (i - 1) / 2 }
        } else if below(heap[0], item) {
            heap[0] = item
            var i = 0
            while true {
                let (l, r) = (2 * i + 1, 2 * i + 2)
                var m = i
                if l < heap.count, below(heap[l], heap[m]) { m = l }
                if r < heap.count, below(heap[r], heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
    }

    func sortedDescending() -> [(score: Float, index: Int)] { heap.sorted { below($1, $0) } }
}
