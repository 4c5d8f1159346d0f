import Engine
import Generator
import Models
import SemanticIDs
import Serving
import Store

/// A rebuilt codebook and the generator trained for it while the current codebook's version serves.
/// The online test ranks each sampled positive with both (its weight average as of the last `refresh`,
/// and the serving version) before anything learns from it; the successor takes over when, on the newest
/// `tests` such pairs, its answers hit more often by more than chance would give. Serving never mixes the two: each version carries the
/// codebook it was trained with (`ModelSnapshot`), and the successor's is stored, not current, until it
/// takes over.
final class CodebookSuccessor {
    let codebook: Codebook
    let source: CodebookSource
    let models: OnlineTrainer
    /// Its averaged weights as of the last `refresh`, which the online test ranks with; nil before.
    private(set) var snapshot: ModelSnapshot?
    /// The newest paired tests: (the successor's rank of the item, the serving version's), nil when not in the top 10.
    private var paired: ReplayBuffer<(successor: Int?, serving: Int?)>

    init(codebook: Codebook, source: CodebookSource, models: OnlineTrainer, tests: Int) {
        (self.codebook, self.source, self.models) = (codebook, source, models)
        paired = ReplayBuffer(capacity: tests)
    }

    /// Takes a servable copy of the weight average for the online test (`info` names what it has read).
    func refresh(info: ModelInfo) {
        snapshot = models.withAveragedWeights { ModelSnapshot(info: info, model: models.generator.model, codebook: codebook) }
    }

    /// The generator's parameters whose meaning depends on the codebook: code embeddings, the output
    /// head, item-ID rows (in the codebook's coding order).
    static let codebookBound: Set<String> = ["embedding", "head", "context.items"]

    /// Starts `model` from `serving`'s weights wherever a parameter does not depend on the codebook and
    /// has the same shape (context and decoder layers, positions, time gaps, recency bias); returns how
    /// many parameters it copied.
    @discardableResult
    static func warmStart(_ model: Seq2Seq, from serving: Seq2Seq) -> Int {
        let source = serving.parameters.named
        var copied = 0
        for (name, t) in model.parameters.named where !codebookBound.contains(name) {
            guard let s = source[name], s.shape == t.shape else { continue }
            t.data.update(from: s.data, count: t.count)
            copied += 1
        }
        return copied
    }

    func record(successor: Int?, serving: Int?) { paired.append((successor, serving)) }

    /// The successor's and the serving version's accuracy on the newest paired tests.
    var tally: (successor: OnlineAccuracy.Tally, serving: OnlineAccuracy.Tally) {
        var (s, v) = (OnlineAccuracy.Tally(), OnlineAccuracy.Tally())
        for i in 0..<paired.count {
            let pair = paired.newest(i)
            s.add(rank: pair.successor)
            v.add(rank: pair.serving)
        }
        return (s, v)
    }

    /// Whether the newest `tests` pairs are in and the successor hit more often on them, by more than
    /// chance would give (McNemar's test on the pairs only one of them hit, one-sided at 5%: `b - c >
    /// 1.645 sqrt(b + c)` for b successor-only and c serving-only hits).
    var wins: Bool {
        guard paired.count == paired.capacity else { return false }
        var (b, c) = (0, 0)
        for i in 0..<paired.count {
            let pair = paired.newest(i)
            switch (pair.successor != nil, pair.serving != nil) {
            case (true, false): b += 1
            case (false, true): c += 1
            default: break
            }
        }
        return Double(b - c) > 1.645 * Double(b + c).squareRoot()
    }
}
