import Engine
import Glibc
import Models
import SemanticIDs

/// A generated session: items in order and the sum of their tokens' log-probabilities.
public struct GeneratedSession: Sendable, Equatable {
    public let items: [UInt64]
    public let logProbability: Float
}

/// Beam search over sessions of semantic IDs, constrained by the codebook's trie: at every code position
/// only tokens that continue to a real item are candidates, an item already in the session (or in the
/// excluded set, e.g. the history) cannot be completed, and prefixes whose every item is excluded are
/// not entered. So every generated code maps to exactly one item and no item repeats.
public struct SessionDecoder: @unchecked Sendable {
    // @unchecked: `generate` only reads the model, the weights snapshot and the codebook, and keeps its
    // state per call, so requests may run concurrently, provided nobody trains this model instance or
    // adds to this codebook meanwhile (serving decodes from a snapshot of both).
    public let model: Seq2Seq
    public let weights: DecodingWeights
    public let tokenizer: ItemTokenizer

    public init(model: Seq2Seq, weights: DecodingWeights, tokenizer: ItemTokenizer) {
        self.model = model
        self.weights = weights
        self.tokenizer = tokenizer
    }

    public struct Result: Sendable {
        /// Best first.
        public let sessions: [GeneratedSession]
        /// Mean entropy (bits) of the constrained next-code distribution at each level.
        public let entropy: [Double]
    }

    /// `beam` sessions of `items` items for one history (encoder tokens), excluding `excluded` items. A model
    /// with time gaps needs `gaps`: each history item's `TimeGap` bucket.
    public func generate(history: [Int32], gaps: [Int32]? = nil, items m: Int, beam: Int, excluded: Set<UInt64> = []) -> Result {
        let levels = tokenizer.levels
        let steps = m * (levels + 1)
        let state = model.startDecoding(tokens: history, valid: [UInt8](repeating: 1, count: history.count), batch: 1,
                                        length: history.count, beams: beam, capacity: steps, gaps: gaps)
        let trie = tokenizer.codebook.trie
        // Excluded items' codes, counted under every prefix, so fully excluded prefixes can be skipped.
        var excludedUnder: [UInt64: Int] = [:]
        for item in excluded { if let code = tokenizer.codebook.code(of: item) { countPrefixes(code, into: &excludedUnder, add: 1) } }

        struct Beam {
            var items: [UInt64] = []
            var prefix: [Int32] = []
            var score: Float = 0
            var used: [UInt64: Int] = [:]  // this session's items under each prefix
            var alive = true
        }
        var beams = [Beam](repeating: Beam(), count: beam)
        var input = [Int32](repeating: ItemTokenizer.bos, count: beam)
        var entropySum = [Double](repeating: 0, count: levels), entropyCount = [Int](repeating: 0, count: levels)
        let v = tokenizer.vocabulary
        for step in 0..<steps {
            let logits = model.decodeStep(state, weights: weights, tokens: input)
            let level = step % (levels + 1)
            if level == levels {
                // Every item is followed by [BOS]: given, not chosen.
                input = [Int32](repeating: ItemTokenizer.bos, count: beam)
                continue
            }
            var best = TopK<(row: Int, code: Int32)>(capacity: beam)
            for (r, b) in beams.enumerated() where b.alive && (step > 0 || r == 0) {
                let allowed = trie.allowed(after: b.prefix).filter { c in
                    let next = b.prefix + [c]
                    let key = prefixKey(CodeTrie.pack(next), next.count)
                    return trie.count(under: next) - (excludedUnder[key] ?? 0) - (b.used[key] ?? 0) > 0
                }
                guard !allowed.isEmpty else { continue }
                let row = logits.data + r * v
                // Log-probabilities over the whole vocabulary, as the model was trained.
                var mx = -Float.infinity
                for j in 0..<v { mx = max(mx, row[j]) }
                var sum: Float = 0
                for j in 0..<v { sum += expf(row[j] - mx) }
                let logZ = mx + logf(sum)
                let scores = allowed.map { row[Int(tokenizer.token(level: level, code: $0))] - logZ }
                // Entropy of the distribution restricted to the allowed codes.
                let restricted = scores.map { expf($0 - scores.max()!) }
                let total = restricted.reduce(0, +)
                entropySum[level] -= restricted.reduce(0.0) { h, p in p > 0 ? h + Double(p / total) * log2(Double(p / total)) : h }
                entropyCount[level] += 1
                for (c, s) in zip(allowed, scores) { best.offer(b.score + s, (r, c)) }
            }
            let chosen = best.sortedDescending()
            var next: [Beam] = []
            var parents: [Int] = []
            input = []
            for candidate in chosen {
                var b = beams[candidate.payload.row]
                b.score = candidate.score
                b.prefix.append(candidate.payload.code)
                if b.prefix.count == levels {
                    guard let item = tokenizer.codebook.item(at: b.prefix) else { preconditionFailure("the trie led to a code with no item") }
                    b.items.append(item)
                    countPrefixes(b.prefix, into: &b.used, add: 1)
                    b.prefix = []
                }
                next.append(b)
                parents.append(candidate.payload.row)
                input.append(tokenizer.token(level: level, code: candidate.payload.code))
            }
            // Fewer candidates than rows (a small catalog, or exclusions): the spare rows idle, dead.
            while next.count < beam {
                var idle = beams[0]
                idle.alive = false
                next.append(idle)
                parents.append(parents.first ?? 0)
                input.append(ItemTokenizer.pad)
            }
            beams = next
            state.reorder(parents)
        }
        let sessions = beams.filter { $0.alive && $0.items.count == m }.map { GeneratedSession(items: $0.items, logProbability: $0.score) }
        return Result(sessions: sessions, entropy: (0..<levels).map { entropyCount[$0] > 0 ? entropySum[$0] / Double(entropyCount[$0]) : 0 })
    }

}

/// Adds `add` to the count of every non-empty prefix of `code` (keys made unique per depth).
func countPrefixes(_ code: [Int32], into counts: inout [UInt64: Int], add: Int) {
    for depth in 1...code.count { counts[prefixKey(CodeTrie.pack(code.prefix(depth)), depth), default: 0] += add }
}

/// A packed prefix made distinct from prefixes of other lengths.
@inline(__always)
func prefixKey(_ packed: UInt64, _ depth: Int) -> UInt64 { packed | UInt64(depth) << 62 }

extension SessionDecoder {
    /// The `count` items to show for a history, best first. A model trained on one-item targets
    /// (`targetItems` 1, whole-sequence training) ranks items with a beam of single items and shows its
    /// `count` best (as `eval` ranks); a session model generates one session of `count` items. The
    /// log-probability is the first item's, or the session's.
    public func recommend(history: [Int32], gaps: [Int32]?, count: Int, beam: Int, excluded: Set<UInt64>, targetItems: Int) -> GeneratedSession? {
        guard targetItems == 1 && count > 1 else {
            return generate(history: history, gaps: gaps, items: count, beam: beam, excluded: excluded).sessions.first
        }
        let ranked = generate(history: history, gaps: gaps, items: 1, beam: max(beam, count), excluded: excluded).sessions
        guard let best = ranked.first else { return nil }
        return GeneratedSession(items: ranked.prefix(count).flatMap(\.items), logProbability: best.logProbability)
    }
}
