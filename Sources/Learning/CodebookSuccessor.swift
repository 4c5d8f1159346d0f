import Generator
import Models
import SemanticIDs
import Serving
import Store

/// A rebuilt codebook and the generator trained for it while the current codebook's version serves.
/// The online test ranks each sampled positive with both (its weight average as of the last `refresh`,
/// and the serving version) before anything learns from it; the successor takes over when, on the newest
/// `tests` such pairs, its answers hit more often. Serving never mixes the two: each version carries the
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

    /// Whether the newest `tests` pairs are in and the successor hit more often on them.
    var wins: Bool {
        let (s, v) = tally
        return paired.count == paired.capacity && s.hits > v.hits
    }
}
