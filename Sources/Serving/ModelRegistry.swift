import Engine
import Foundation
import LMDB
import Logging
import Models
import SemanticIDs
import Synchronization

/// Why the model store refused something; the message names the version and the reason.
public struct ModelStoreError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The model store and the serving pointer. Every published generator version is a safetensors file
/// (`<directory>/generator-v<N>.safetensors`, written atomically) plus its `ModelInfo` in LMDB; the
/// promoted versions form a stack whose top is what serving uses. Promotion and rollback swap the
/// in-memory snapshot in one atomic step: a request that already holds the old snapshot finishes with it,
/// the next one gets the new one, none fails or waits.
///
/// Databases: `models` (version -> ModelInfo JSON), `models.serving` ("promoted" -> the stack of
/// promoted versions, oldest first, as big-endian UInt32s).
public final class ModelRegistry: Sendable {
    let environment: Environment
    let models: Database, serving: Database
    let codebooks: CodebookStore
    public let directory: String
    /// Versions kept on disk besides the promoted stack (older unpromoted ones are deleted).
    let keep: Int
    /// Version records (info and metrics) kept besides the promoted ones; older ones are deleted, so a
    /// daemon publishing every few seconds does not grow the store without bound.
    let keepRecords: Int
    private let current = Mutex<ModelSnapshot?>(nil)
    private let logger: Logger
    static let promotedKey = Array("promoted".utf8)

    public init(environment: Environment, directory: String, keep: Int = 5, keepRecords: Int = 1000, logger: Logger) throws {
        precondition(keepRecords >= keep, "records are kept at least as long as files")
        self.environment = environment
        models = try environment.openDatabase("models")
        serving = try environment.openDatabase("models.serving")
        codebooks = try CodebookStore(environment: environment)
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
    public func versions(limit: Int = .max) throws -> [ModelInfo] {
        try environment.read { txn in
            var found: [ModelInfo] = []
            try txn.scan(models, reverse: true) { _, value in
                if let info = try? JSONDecoder().decode(ModelInfo.self, from: Data(value)) { found.append(info) }
                return found.count < limit
            }
            return found.reversed()
        }
    }

    /// Promoted versions, oldest first; the last one serves.
    public func promotedStack() throws -> [UInt32] {
        try environment.read { txn in
            guard let bytes = try txn.get(serving, Self.promotedKey) else { return [] }
            var r = KeyReader(bytes)
            return (0..<bytes.count / 4).map { _ in r.read(UInt32.self) }
        }
    }

    /// The version the next publication takes.
    public func nextVersion() throws -> UInt32 { (try versionNumbers(newestFirst: true, limit: 1).first ?? 0) + 1 }

    /// Recorded version numbers (keys only, no record decoded).
    func versionNumbers(newestFirst: Bool = false, limit: Int = .max) throws -> [UInt32] {
        try environment.read { txn in
            var found: [UInt32] = []
            try txn.scan(models, reverse: newestFirst) { key, _ in
                var r = KeyReader(key)
                found.append(r.read(UInt32.self))
                return found.count < limit
            }
            return found
        }
    }

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
        try environment.write { txn in
            guard try txn.put(models, KeyBuilder.key(info.version), Array(json), flags: .noOverwrite) else {
                throw ModelStoreError("model version \(info.version) exists already")
            }
        }
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
        guard let bytes = try environment.read({ txn in try txn.get(models, KeyBuilder.key(version)) }) else {
            throw ModelStoreError("no model version \(version)")
        }
        let info = try JSONDecoder().decode(ModelInfo.self, from: Data(bytes))
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
        try environment.write { txn in _ = try txn.put(serving, Self.promotedKey, kept.flatMap { KeyBuilder.key($0) }) }
    }

    /// Deletes the files of versions that are neither promoted nor among the newest `keep`, and the
    /// records of those not among the newest `keepRecords`.
    private func prune() throws {
        let promoted = Set(try promotedStack())
        let all = try versionNumbers()
        for v in all.dropLast(keep) where !promoted.contains(v) && FileManager.default.fileExists(atPath: path(v)) {
            try? FileManager.default.removeItem(atPath: path(v))
        }
        let doomed = all.dropLast(keepRecords).filter { !promoted.contains($0) }
        if !doomed.isEmpty {
            try environment.write { txn in
                for v in doomed { _ = try txn.delete(models, KeyBuilder.key(v)) }
            }
        }
    }
}
