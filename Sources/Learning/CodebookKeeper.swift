import Foundation
import Logging
import SemanticIDs
import Store

/// The codebook the learner trains against: built once (balanced residual k-means over the catalog's
/// content embeddings), restored after a restart, and extended online as items arrive (nearest centroids,
/// then the nearest free code); every change is written to the store.
final class CodebookKeeper {
    private let store: CodebookStore
    private let logger: Logger
    private(set) var codebook: Codebook?
    /// Items whose vector the codebook refused (logged once, not retried).
    private var uncodable: Set<UInt64> = []

    init(store: CodebookStore, logger: Logger) { (self.store, self.logger) = (store, logger) }

    /// The store's current codebook, if there is one.
    func restore() throws -> Codebook? {
        codebook = try store.load()
        return codebook
    }

    /// Builds and stores the next version from `embeddings` (at least one; vectors of another dimension
    /// than the lowest item id's are rejected).
    func build(from embeddings: [UInt64: [Float]]) throws -> Codebook {
        let ids = embeddings.keys.sorted()
        let dimension = embeddings[ids[0]]!.count
        let (vectors, rejected) = ItemVectors.validated(ids.map { (id: $0, vector: embeddings[$0]!) }, dimension: dimension)
        let start = Date()
        let (quantizer, training) = ResidualQuantizer.train(vectors, config: ResidualQuantizer.Config())
        let book = try Codebook(version: try store.nextVersion(), vectors: vectors, quantizer: quantizer, training: training)
        let report = CodebookReport(codebook: book, training: training, mode: .balanced, seconds: Date().timeIntervalSince(start))
        try store.save(book, report: report)
        codebook = book
        logger.info("codebook built", metadata: ["version": "\(book.version)", "items": "\(book.count)", "rejected": "\(rejected.count)",
                                                 "collisions": "\(book.collisionsBeforeResolution)"])
        return book
    }

    /// Codes the items of `embeddings` that arrived after the codebook.
    func codeNewItems(_ embeddings: [UInt64: [Float]]) {
        guard let codebook, codebook.count + uncodable.count < embeddings.count else { return }
        for (id, vector) in embeddings where codebook.code(of: id) == nil && !uncodable.contains(id) {
            do {
                try codebook.add(item: id, vector: vector)
                try store.saveAssignment(codebook, item: id)
            } catch {
                uncodable.insert(id)
                logger.warning("item left without a code", metadata: ["item": "\(id)", "reason": "\(error)"])
            }
        }
    }
}
