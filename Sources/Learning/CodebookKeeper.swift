import Foundation
import Logging
import SemanticIDs
import Store

/// The codebook the learner trains against: built (balanced residual k-means over the items' vectors:
/// content embeddings, behaviour or both, `CodebookVectors`), restored after a restart, and extended
/// online as items arrive; every change is written to the store. A content codebook codes a new item
/// from its embedding; a behaviour (or both) codebook codes it once it co-occurs with coded items in
/// users' sequences (`CodebookVectors.foldIn`). A rebuild stores the next version without making it
/// current until its generator takes over (`adopt`).
final class CodebookKeeper {
    private let store: CodebookStore
    private let logger: Logger
    private(set) var codebook: Codebook?
    /// Where the codebook's vectors came from.
    private(set) var source: CodebookSource?
    /// Items whose vector a codebook version refused (logged once, not retried).
    private var uncodable: [UInt32: Set<UInt64>] = [:]

    init(store: CodebookStore, logger: Logger) { (self.store, self.logger) = (store, logger) }

    /// The store's current codebook, if there is one, and its source (`fallback` when the store does not
    /// say: codebooks built before sources were kept came from content).
    func restore(fallback: CodebookSource) throws -> Codebook? {
        codebook = try store.load()
        if let codebook { source = try store.source(version: codebook.version).flatMap(CodebookSource.init(rawValue:)) ?? fallback }
        return codebook
    }

    /// Builds and stores the next version from `vectors` (at least one; vectors of another dimension than
    /// the lowest item id's are rejected) with `levels` code levels; it becomes the keeper's codebook with
    /// `current`, else it is only stored (a rebuild's successor).
    func build(from vectors: [UInt64: [Float]], source: CodebookSource, levels: Int, seed: UInt64, current: Bool = true) throws -> Codebook {
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
        try store.save(book, report: report, source: source.rawValue, makeCurrent: current)
        if current { (codebook, self.source) = (book, source) }
        logger.info("codebook built", metadata: ["version": "\(book.version)", "source": "\(source.rawValue)", "items": "\(book.count)",
                                                 "rejected": "\(rejected.count)", "collisions": "\(book.collisionsBeforeResolution)",
                                                 "current": "\(current)"])
        return book
    }

    /// Makes a rebuilt version (`build(current: false)`) the current one.
    func adopt(_ book: Codebook, source: CodebookSource) throws {
        try store.makeCurrent(version: book.version)
        if let old = codebook { uncodable[old.version] = nil }
        (codebook, self.source) = (book, source)
    }

    /// Codes the items of `vectors` (in `codebook`'s own space) that have no code yet; returns how many
    /// it coded.
    @discardableResult
    func code(_ vectors: [UInt64: [Float]], into codebook: Codebook) -> Int {
        var coded = 0
        for (id, vector) in vectors.sorted(by: { $0.key < $1.key }) where codebook.code(of: id) == nil && uncodable[codebook.version]?.contains(id) != true {
            do {
                try codebook.add(item: id, vector: vector)
                try store.saveAssignment(codebook, item: id)
                coded += 1
            } catch {
                uncodable[codebook.version, default: []].insert(id)
                logger.warning("item left without a code", metadata: ["item": "\(id)", "codebook": "\(codebook.version)", "reason": "\(error)"])
            }
        }
        return coded
    }

    /// Codes the content embeddings' items that arrived after `codebook`, a content codebook.
    func codeNewItems(_ embeddings: [UInt64: [Float]], into codebook: Codebook) {
        guard codebook.count + (uncodable[codebook.version]?.count ?? 0) < embeddings.count else { return }
        code(embeddings, into: codebook)
    }
}
