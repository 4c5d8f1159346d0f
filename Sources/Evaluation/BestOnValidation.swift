import Engine
import Models

/// Keeps a model's parameters as they were at its best validation NDCG@10 among periodic measurements,
/// and says when `patience` measurements in a row have not improved on it.
struct BestOnValidation {
    let parameters: ParameterStore
    let patience: Int
    /// The best measurement so far: its NDCG@10, where it was taken (an epoch or a step) and the values.
    private(set) var best: (ndcg: Double, at: Int, values: [String: Tensor])?
    private var stale = 0

    init(_ parameters: ParameterStore, patience: Int) {
        self.parameters = parameters
        self.patience = patience
    }

    /// Records a measurement taken at `at`; false once `patience` measurements in a row were no better.
    mutating func record(_ metrics: RankingMetrics, at: Int) -> Bool {
        if metrics.ndcg(10) > best?.ndcg ?? -1 {
            best = (metrics.ndcg(10), at, parameters.named.mapValues { Tensor(shape: $0.shape, values: $0.values) })
            stale = 0
        } else {
            stale += 1
        }
        return stale < patience
    }

    /// Puts the best measurement's values back; returns where it was taken (nil: nothing measured).
    func rewind() -> Int? {
        guard let best else { return nil }
        do { try parameters.load(best.values) } catch { preconditionFailure("a copy has the model's shapes: \(error)") }
        return best.at
    }
}
