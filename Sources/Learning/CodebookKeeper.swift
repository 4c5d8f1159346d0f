import Foundation
import Logging
import SemanticIDs
import Store

/// The codebook the learner trains against: built once (balanced residual k-means over the items'
/// vectors: content embeddings, behaviour or both, `CodebookVectors`), restored after a restart, and
/// extended online as items arrive; every change is written to the store. A content codebook codes a new
/// item from its embedding; a behaviour (or both) codebook codes it once it co-occurs with coded items in
/// users' sequences (`CodebookVectors.foldIn`).
final class CodebookKeeper {
    private let store: CodebookStore
    private let logger: Logger
    private(set) var codebook: Codebook?
    /// Where the codebook's vectors came from.
    private(set) var source: CodebookSource?
    /// Items whose vector the codebook refused (logged once, not retried).
    private var uncodable: Set<UInt64> = []

    init(store: CodebookStore, logger: Logger) { (self.store, self.logger) = (store, logger) }

    /// The store's current codebook, if there is one, and its source (`fallback` when the store does not
    /// say: codebooks built before sources were kept came from content).
    func restore(fallback: CodebookSource) throws -> Codebook? {
        codebook = try store.load()
        if let codebook { source = try store.source(version: codebook.version).flatMap(CodebookSource.init(rawValue:)) ?? fallback }
        return codebook
    }

    /// Builds and stores the next version from `vectors` (at least one; vectors of another dimension than
    /// the lowest item id's are rejected) with `levels` code levels.
    func build(from vectors: [UInt64: [Float]], source: CodebookSource, levels: Int, seed: UInt64) throws -> Codebook {
        let ids = vectors.keys.sorted()
        let dimension = vectors[ids[0]]!.count
        let (items, rejected) = ItemVectors.validated(ids.map { (id: $0, vector: vectors[$0]!) }, dimension: dimension)
        guard items.count >= 2 else { throw LearnerError("a codebook needs two items with usable vectors (have \(items.count))") }
        let start = Date()
        var qc = ResidualQuantizer.Config()
        (qc.levels, qc.seed) = (levels, seed)
        let (quantizer, training) = ResidualQuantizer.train(items, config: qc)
        let book = try Codebook(version: try store.nextVersion(), vectors: items, quantizer: quantizer, training: training)
        let report = CodebookReport(codebook: book, training: training, mode: .balanced, seconds: Date().timeIntervalSince(start))
        try store.save(book, report: report, source: source.rawValue)
        (codebook, self.source, uncodable) = (book, source, [])
        logger.info("codebook built", metadata: ["version": "\(book.version)", "source": "\(source.rawValue)", "items": "\(book.count)",
                                                 "rejected": "\(rejected.count)", "collisions": "\(book.collisionsBeforeResolution)"])
        return book
    }

    /// Codes the items of `vectors` (in the codebook's own space) that have no code yet; returns how many
    /// it coded.
    @discardableResult
    func code(_ vectors: [UInt64: [Float]]) -> Int {
        guard let codebook else { return 0 }
        var coded = 0
        for (id, vector) in vectors.sorted(by: { $0.key < $1.key }) where codebook.code(of: id) == nil && !uncodable.contains(id) {
            do {
                try codebook.add(item: id, vector: vector)
                try store.saveAssignment(codebook, item: id)
                coded += 1
            } catch {
                uncodable.insert(id)
                logger.warning("item left without a code", metadata: ["item": "\(id)", "reason": "\(error)"])
            }
        }
        return coded
    }

    /// Codes the content embeddings' items that arrived after a content codebook.
    func codeNewItems(_ embeddings: [UInt64: [Float]]) {
        guard source == .content, let codebook, codebook.count + uncodable.count < embeddings.count else { return }
        code(embeddings)
    }
}
