import Engine
import Generator
import Models
import Store
import SemanticIDs

/// One servable generator version: its weights, a frozen copy of the codebook its tokens refer to, and
/// the decoding weights prepared from them. Nothing changes a snapshot after it is built, so requests
/// decode from it concurrently while the trainer works on its own model and codebook.
public final class ModelSnapshot: Sendable {
    public let info: ModelInfo
    let decoder: SessionDecoder
    public var version: UInt32 { info.version }
    public var tokenizer: ItemTokenizer { decoder.tokenizer }

    /// Copies `model` and `codebook`, so the caller may go on training and extending them.
    public init(info: ModelInfo, model: Seq2Seq, codebook: Codebook) {
        precondition(model.config == info.config, "model shape differs from its record")
        let frozen = Codebook(version: codebook.version, quantizer: codebook.quantizer, assignments: codebook.assignments,
                              collisionsBeforeResolution: codebook.collisionsBeforeResolution, order: codebook.itemsInOrder)
        let twin = model.copy()
        self.info = info
        // The daemon's generators number item IDs in coding order (`LearnerConfig.itemIDs`); a row the
        // version never trained is zero, so an item coded after it is its codes alone.
        let rows = info.config.itemVocabulary
        let tokenizer = ItemTokenizer(codebook: frozen, itemIDs: rows > 0 ? .codingOrder(capacity: rows - 1) : .none)
        decoder = SessionDecoder(model: twin, weights: twin.decodingWeights(), tokenizer: tokenizer)
    }

    /// Beam-searched sessions of `items` items for a history (oldest first), none of them in `excluded`.
    /// Items without a code in this version are left out of the history. `times` (each history item's time
    /// in milliseconds) give a version with time gaps its gaps; other versions ignore them.
    public func generate(history: [UInt64], times: [Int64], items: Int, beam: Int, excluded: Set<UInt64>) -> SessionDecoder.Result {
        precondition(times.count == history.count, "one time per history item")
        let (coded, gaps) = tokenizer.coded(history, gaps: TimeGap.buckets(timestamps: times.map { $0 / 1000 }))
        let context = tokenizer.historyContext(coded, gaps: gaps, maxItems: info.maxHistory)
        return decoder.generate(history: context.tokens, gaps: context.gaps, items: items, beam: beam, excluded: excluded)
    }

    /// The `count` items this version shows for a history (oldest first), none of them in `excluded`
    /// (`SessionDecoder.recommend`: a version trained on one-item targets shows its best `count` single
    /// items, a session version one session).
    public func recommend(history: [UInt64], times: [Int64], count: Int, beam: Int, excluded: Set<UInt64>) -> GeneratedSession? {
        precondition(times.count == history.count, "one time per history item")
        let (coded, gaps) = tokenizer.coded(history, gaps: TimeGap.buckets(timestamps: times.map { $0 / 1000 }))
        let context = tokenizer.historyContext(coded, gaps: gaps, maxItems: info.maxHistory)
        return decoder.recommend(history: context.tokens, gaps: context.gaps, count: count, beam: beam, excluded: excluded,
                                 targetItems: info.sessionItems)
    }

    /// The parameters, for writing this version to disk.
    var parameters: [Tensor] { decoder.model.parameters.tensors }

    /// The parameters by name, to start a model from this version (read only: the snapshot is shared).
    public var weights: [String: Tensor] { decoder.model.parameters.named }
}
