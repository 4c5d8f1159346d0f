import Models
import SemanticIDs
import Serving
import Store

/// Publishes the trained generator as a new model version and (unless it is to be canaried first) serves
/// it (`ModelRegistry`), recording where it came from: its parent, kind, codebook, shape, steps and
/// measured figures.
struct Publisher {
    let registry: ModelRegistry
    let maxHistory: Int, sessionItems: Int

    @discardableResult
    func publish(kind: ModelInfo.Kind, model: Seq2Seq, codebook: Codebook, steps: Int, metrics: [String: Double], promote: Bool = true) throws -> ModelSnapshot {
        let info = ModelInfo(version: try registry.nextVersion(), parent: registry.snapshot?.version, kind: kind,
                             codebookVersion: codebook.version, config: model.config, maxHistory: maxHistory,
                             sessionItems: sessionItems, steps: steps, metrics: metrics)
        return try registry.publish(model: model, codebook: codebook, info: info, promote: promote)
    }
}
