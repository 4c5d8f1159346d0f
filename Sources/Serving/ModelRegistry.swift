import Engine
import Foundation
import Logging
import Models
import SemanticIDs
import Store
import Synchronization

/// Why the model store refused something; the message names the version and the reason.
public struct ModelStoreError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The model store and the serving pointer. Every published generator version is a safetensors file
/// (`<directory>/generator-v<N>.safetensors`, written atomically) plus its `ModelInfo` in the store
/// (`ModelRecords`); the promoted versions form a stack whose top is what serving uses. Promotion and
/// rollback swap the in-memory snapshot in one atomic step: a request that already holds the old snapshot
/// finishes with it, the next one gets the new one, none fails or waits.
public final class ModelRegistry: Sendable {
    let records: ModelRecords
    let codebooks: CodebookStore
    public let directory: String
    /// Versions kept on disk besides the promoted stack (older unpromoted ones are deleted).
    let keep: Int
    /// Version records (info and metrics) kept besides the promoted ones; older ones are deleted, so a
    /// daemon publishing every few seconds does not grow the store without bound.
    let keepRecords: Int
    private let current = Mutex<ModelSnapshot?>(nil)
    private let logger: Logger

    public init(store: OpenStore, directory: String, keep: Int = 5, keepRecords: Int = 1000, logger: Logger) throws {
        precondition(keepRecords >= keep, "records are kept at least as long as files")
        records = try store.models()
        codebooks = try store.codebooks()
        self.directory = directory
        self.keep = keep
        self.keepRecords = keepRecords
        self.logger = logger
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ModelStoreError("cannot create the model directory \(directory): \(error.localizedDescription)")
        }
    }

    /// The snapshot serving uses now (nil before the first model exists).
    public var snapshot: ModelSnapshot? { current.withLock { $0 } }

    /// Loads the newest promoted version that reads back intact; a damaged one is logged, skipped and
    /// left on disk for inspection, and the one promoted before it serves.
    @discardableResult
    public func restore() throws -> ModelSnapshot? {
        for version in try promotedStack().reversed() {
            do {
                let snapshot = try load(version: version)
                current.withLock { $0 = snapshot }
                return snapshot
            } catch {
                logger.error("model version refused", metadata: ["version": "\(version)", "reason": "\(error)"])
            }
        }
        return nil
    }

    /// Recorded versions, oldest first: all of them, or the newest `limit`.
    public func versions(limit: Int = .max) throws -> [ModelInfo] { try records.versions(limit: limit) }

    /// Promoted versions, oldest first; the last one serves.
    public func promotedStack() throws -> [UInt32] { try records.promotedStack() }

    /// The version the next publication takes.
    public func nextVersion() throws -> UInt32 { (try records.versionNumbers(newestFirst: true, limit: 1).first ?? 0) + 1 }

    /// Writes a new version (file first, then its record) and, if asked, promotes it. The snapshot copies
    /// the model and codebook, so the caller keeps training them.
    @discardableResult
    public func publish(model: Seq2Seq, codebook: Codebook, info: ModelInfo, promote: Bool) throws -> ModelSnapshot {
        let snapshot = ModelSnapshot(info: info, model: model, codebook: codebook)
        if try !codebooks.versions().contains(codebook.version) { try codebooks.save(codebook, makeCurrent: true) }
        let json = try JSONEncoder().encode(info)
        try Safetensors.save(snapshot.parameters, metadata: ["format": "onerec.model", "version": "\(info.version)",
                                                             "info": String(decoding: json, as: UTF8.self)],
                             to: path(info.version))
        guard try records.add(info) else { throw ModelStoreError("model version \(info.version) exists already") }
        if promote { try push(snapshot) }
        try prune()
        return snapshot
    }

    /// Makes a recorded version the serving one (it is read back and verified first).
    @discardableResult
    public func promote(version: UInt32) throws -> ModelSnapshot {
        let snapshot = try load(version: version)
        try push(snapshot)
        return snapshot
    }

    /// Serves the version promoted before the current one again; the current one stays on disk.
    @discardableResult
    public func rollback() throws -> ModelSnapshot {
        var stack = try promotedStack()
        guard stack.count >= 2 else { throw ModelStoreError("nothing to roll back to: \(stack.count) promoted version(s)") }
        let dropped = stack.removeLast()
        let snapshot = try load(version: stack.last!)
        try writeStack(stack)
        current.withLock { $0 = snapshot }
        logger.notice("model rolled back", metadata: ["from": "\(dropped)", "to": "\(snapshot.version)"])
        return snapshot
    }

    /// Reads a version back: its record, its file (checksummed) and its codebook. Throws on any damage.
    public func load(version: UInt32) throws -> ModelSnapshot {
        guard let info = try records.info(version: version) else { throw ModelStoreError("no model version \(version)") }
        let (tensors, metadata) = try Safetensors.load(path(version))
        guard metadata["format"] == "onerec.model", metadata["version"] == "\(version)" else {
            throw ModelStoreError("\(path(version)) is not model version \(version)")
        }
        guard let codebook = try codebooks.load(version: info.codebookVersion) else {
            throw ModelStoreError("model version \(version) needs codebook \(info.codebookVersion), which is missing")
        }
        let model = Seq2Seq(config: info.config, seed: 0)
        try model.parameters.load(tensors)
        return ModelSnapshot(info: info, model: model, codebook: codebook)
    }

    func path(_ version: UInt32) -> String { "\(directory)/generator-v\(version).safetensors" }

    private func push(_ snapshot: ModelSnapshot) throws {
        var stack = try promotedStack()
        stack.removeAll { $0 == snapshot.version }
        stack.append(snapshot.version)
        try writeStack(stack)
        current.withLock { $0 = snapshot }
        logger.info("model promoted", metadata: ["version": "\(snapshot.version)", "kind": "\(snapshot.info.kind.rawValue)"])
    }

    private func writeStack(_ stack: [UInt32]) throws {
        let kept = stack.suffix(keep)  // older promotions lose their files in `prune`, so they cannot be rolled back to
        try records.setPromotedStack(Array(kept))
    }

    /// Deletes the files of versions that are neither promoted nor among the newest `keep`, and the
    /// records of those not among the newest `keepRecords`.
    private func prune() throws {
        let promoted = Set(try promotedStack())
        let all = try records.versionNumbers()
        for v in all.dropLast(keep) where !promoted.contains(v) && FileManager.default.fileExists(atPath: path(v)) {
            try? FileManager.default.removeItem(atPath: path(v))
        }
        try records.delete(all.dropLast(keepRecords).filter { !promoted.contains($0) })
    }
}
