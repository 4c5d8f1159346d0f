import Alignment
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
    /// The running canary and its candidate's snapshot.
    private let canaryState = Mutex<RunningCanary?>(nil)
    private let logger: Logger
    private let changed: AsyncStream<Void>.Continuation

    /// Yields after every change of what is published or promoted (a publication, promotion, rollback,
    /// a canary's promotion, an adopted stack); one reader; changes in quick succession may yield once.
    public let changes: AsyncStream<Void>

    /// A canary that serves: its record and the candidate it serves to its share of users.
    public struct RunningCanary: Sendable {
        public let canary: Canary
        public let snapshot: ModelSnapshot
    }

    public init(store: OpenStore, directory: String, keep: Int = 5, keepRecords: Int = 1000, logger: Logger) throws {
        precondition(keepRecords >= keep, "records are kept at least as long as files")
        records = try store.models()
        codebooks = try store.codebooks()
        self.directory = directory
        self.keep = keep
        self.keepRecords = keepRecords
        self.logger = logger
        (changes, changed) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ModelStoreError("cannot create the model directory \(directory): \(error.localizedDescription)")
        }
    }

    /// The snapshot serving uses now (nil before the first model exists).
    public var snapshot: ModelSnapshot? { current.withLock { $0 } }

    /// The canary serving now, if one runs.
    public var canary: RunningCanary? { canaryState.withLock { $0 } }

    /// Loads the newest promoted version that reads back intact; a damaged one is logged, skipped and
    /// left on disk for inspection, and the one promoted before it serves. A canary that was running
    /// serves again; one whose candidate no longer reads back is stopped.
    @discardableResult
    public func restore() throws -> ModelSnapshot? {
        var restored: ModelSnapshot?
        for version in try promotedStack().reversed() {
            do {
                let snapshot = try load(version: version)
                current.withLock { $0 = snapshot }
                restored = snapshot
                break
            } catch {
                logger.error("model version refused", metadata: ["version": "\(version)", "reason": "\(error)"])
            }
        }
        if var running = try records.canaries(limit: 1).last, running.state == .running {
            do {
                let snapshot = try load(version: running.candidate)
                canaryState.withLock { $0 = RunningCanary(canary: running, snapshot: snapshot) }
            } catch {
                running.stop(at: Date().timeIntervalSince1970, reason: "stopped at restart: candidate \(running.candidate) does not read back (\(error))")
                try records.save(running)
                logger.error("canary stopped", metadata: ["canary": "\(running.id)", "reason": "\(running.reason ?? "")"])
            }
        }
        return restored
    }

    /// Every canary, oldest first (the newest `limit`).
    public func canaries(limit: Int = .max) throws -> [Canary] { try records.canaries(limit: limit) }

    /// Starts serving `version` to `settings.share` of users beside the promoted version; refuses while
    /// another canary runs, without a promoted version, or for the serving version itself.
    @discardableResult
    public func startCanary(version: UInt32, settings: Canary.Settings, now: Double = Date().timeIntervalSince1970) throws -> Canary {
        if let problem = settings.problem { throw ModelStoreError("cannot start a canary: \(problem)") }
        if let running = canary { throw ModelStoreError("canary \(running.canary.id) of version \(running.canary.candidate) is running; stop it first") }
        guard let control = snapshot else { throw ModelStoreError("no version serves yet: promote one before a canary can compare with it") }
        guard control.version != version else { throw ModelStoreError("version \(version) serves already; a canary needs another version") }
        let candidate = try load(version: version)
        let id = (try records.canaries(limit: 1).last?.id ?? 0) + 1
        let started = Canary(id: id, candidate: version, controlAtStart: control.version, settings: settings, startedAt: now)
        try records.save(started)
        canaryState.withLock { $0 = RunningCanary(canary: started, snapshot: candidate) }
        logger.notice("canary started", metadata: ["canary": "\(id)", "candidate": "\(version)", "control": "\(control.version)", "share": "\(settings.share)"])
        return started
    }

    /// Records a look at the running canary (`Canary.decide`): a decided one stops serving, and if it was
    /// promoted its candidate becomes the promoted version.
    public func record(look canary: Canary) throws {
        guard let running = self.canary, running.canary.id == canary.id else { throw ModelStoreError("canary \(canary.id) is not running") }
        try records.save(canary)
        switch canary.state {
        case .running:
            canaryState.withLock { $0 = RunningCanary(canary: canary, snapshot: running.snapshot) }
        case .promoted:
            try push(running.snapshot)
            canaryState.withLock { $0 = nil }
            logger.notice("canary promoted its candidate", metadata: ["canary": "\(canary.id)", "version": "\(canary.candidate)", "reason": "\(canary.reason ?? "")"])
        case .rolledBack, .stopped:
            canaryState.withLock { $0 = nil }
            logger.notice("canary ended; the control serves everyone", metadata: ["canary": "\(canary.id)", "state": "\(canary.state.rawValue)", "reason": "\(canary.reason ?? "")"])
        }
    }

    /// Stops the running canary by an operator's hand: its users go back to the promoted version.
    @discardableResult
    public func stopCanary(reason: String, now: Double = Date().timeIntervalSince1970) throws -> Canary {
        guard var running = canary?.canary else { throw ModelStoreError("no canary is running") }
        running.stop(at: now, reason: reason)
        try record(look: running)
        return running
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
        changed.yield()
        return snapshot
    }

    /// Versions whose files are on disk (promoted ones and the newest `keep`), ascending: what another
    /// node can be sent.
    public func versionsOnDisk() throws -> [UInt32] {
        try records.versionNumbers().filter { FileManager.default.fileExists(atPath: path($0)) }
    }

    /// A version as another node needs it: its record, its file's bytes and its codebook (as this store
    /// has it now: the version's items plus any coded since).
    public func exported(version: UInt32) throws -> (info: ModelInfo, file: [UInt8], codebook: Codebook) {
        guard let info = try records.info(version: version) else { throw ModelStoreError("no model version \(version)") }
        guard let file = FileManager.default.contents(atPath: path(version)) else { throw ModelStoreError("model version \(version)'s file is gone") }
        guard let codebook = try codebooks.load(version: info.codebookVersion) else {
            throw ModelStoreError("model version \(version) needs codebook \(info.codebookVersion), which is missing")
        }
        return (info, Array(file), codebook)
    }

    /// Stores a version another node published (a serve node following the models topic): the file is
    /// checked by loading it before it takes its place, the codebook is merged into this store's, the
    /// record is added. Not promoted (see `adopt`); false if the version is here already.
    @discardableResult
    public func receive(info: ModelInfo, file: [UInt8], codebook: Codebook) throws -> Bool {
        if try records.info(version: info.version) != nil, FileManager.default.fileExists(atPath: path(info.version)) { return false }
        guard codebook.version == info.codebookVersion else {
            throw ModelStoreError("model version \(info.version) came with codebook \(codebook.version), its record names \(info.codebookVersion)")
        }
        let temporary = "\(path(info.version)).received"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(file)) else {
            throw ModelStoreError("cannot write \(temporary)")
        }
        do {
            let (tensors, metadata) = try Safetensors.load(temporary)
            guard metadata["format"] == "onerec.model", metadata["version"] == "\(info.version)" else {
                throw ModelStoreError("the file received as model version \(info.version) is not that version")
            }
            try Seq2Seq(config: info.config, seed: 0).parameters.load(tensors)
            try codebooks.merge(codebook)
            guard rename(temporary, path(info.version)) == 0 else { throw ModelStoreError("cannot rename \(temporary): errno \(errno)") }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error as? ModelStoreError ?? ModelStoreError("model version \(info.version) received damaged: \(error)")
        }
        _ = try records.add(info)
        logger.info("model received", metadata: ["version": "\(info.version)", "kind": "\(info.kind.rawValue)", "bytes": "\(file.count)"])
        return true
    }

    /// Makes `stack` (another node's promoted versions, oldest first) this node's: its last version
    /// serves. Versions not received are left out of the stack; the last one must be here. False if
    /// nothing changed.
    @discardableResult
    public func adopt(stack: [UInt32]) throws -> Bool {
        guard let top = stack.last else { return false }
        let here = try stack.filter { try records.info(version: $0) != nil && FileManager.default.fileExists(atPath: path($0)) }
        guard here.last == top else { throw ModelStoreError("cannot serve version \(top): it has not been received") }
        let previous = try promotedStack()
        guard here != previous || snapshot?.version != top else { return false }
        let serving = snapshot?.version == top ? snapshot! : try load(version: top)
        try writeStack(here)
        current.withLock { $0 = serving }
        try prune()
        logger.notice("model promoted by the train node", metadata: ["version": "\(top)", "stack": "\(here)"])
        changed.yield()
        return true
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
        changed.yield()
        return snapshot
    }

    /// Reads a version back: its record, its file (checksummed) and its codebook. Throws on any damage.
    public func load(version: UInt32) throws -> ModelSnapshot {
        guard let info = try records.info(version: version) else { throw ModelStoreError("no model version \(version)") }
        guard FileManager.default.fileExists(atPath: path(version)) else {
            throw ModelStoreError("model version \(version)'s file was deleted: only promoted versions and the newest \(keep) keep their files")
        }
        let tensors: [String: Tensor], metadata: [String: String]
        do {
            (tensors, metadata) = try Safetensors.load(path(version))
        } catch {
            throw ModelStoreError("model version \(version): \(error)")
        }
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
        changed.yield()
    }

    private func writeStack(_ stack: [UInt32]) throws {
        let kept = stack.suffix(keep)  // older promotions lose their files in `prune`, so they cannot be rolled back to
        try records.setPromotedStack(Array(kept))
    }

    /// Deletes the files of versions that are neither promoted (nor a running canary's candidate) nor among
    /// the newest `keep`, and the records of those not among the newest `keepRecords`.
    private func prune() throws {
        let promoted = Set(try promotedStack()).union(canary.map { [$0.canary.candidate] } ?? [])
        let all = try records.versionNumbers()
        for v in all.dropLast(keep) where !promoted.contains(v) && FileManager.default.fileExists(atPath: path(v)) {
            try? FileManager.default.removeItem(atPath: path(v))
        }
        try records.delete(all.dropLast(keepRecords).filter { !promoted.contains($0) })
    }
}
