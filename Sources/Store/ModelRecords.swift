import Alignment
import Foundation
import LMDB

/// The model store's records in LMDB: each published generator version's `ModelInfo`, and the stack of
/// promoted versions whose top serves. The weights themselves are files (`ModelRegistry`).
///
/// Databases: `models` (version -> ModelInfo JSON), `models.serving` ("promoted" -> the stack of promoted
/// versions, oldest first, as big-endian UInt32s; "canary/" + id -> each canary's `Canary` JSON).
public struct ModelRecords: Sendable {
    let environment: Environment
    let models: Database, serving: Database
    static let promotedKey = Array("promoted".utf8)
    static let canaryPrefix = Array("canary/".utf8)

    init(environment: Environment) throws {
        self.environment = environment
        models = try environment.openDatabase("models")
        serving = try environment.openDatabase("models.serving")
    }

    /// The record of `version`, if there is one.
    public func info(version: UInt32) throws -> ModelInfo? {
        try environment.read { txn in try txn.get(models, KeyBuilder.key(version)) }.map { try JSONDecoder().decode(ModelInfo.self, from: Data($0)) }
    }

    /// Recorded versions, oldest first: all of them, or the newest `limit` (records that do not decode
    /// are left out).
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

    /// Recorded version numbers (keys only, no record decoded), ascending or newest first.
    public func versionNumbers(newestFirst: Bool = false, limit: Int = .max) throws -> [UInt32] {
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

    /// Records a new version; false (and nothing written) if that version is recorded already.
    public func add(_ info: ModelInfo) throws -> Bool {
        let json = try JSONEncoder().encode(info)
        return try environment.write { txn in try txn.put(models, KeyBuilder.key(info.version), Array(json), flags: .noOverwrite) }
    }

    /// Deletes the records of `versions`.
    public func delete(_ versions: [UInt32]) throws {
        guard !versions.isEmpty else { return }
        try environment.write { txn in
            for v in versions { _ = try txn.delete(models, KeyBuilder.key(v)) }
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

    /// Replaces the promoted stack.
    public func setPromotedStack(_ stack: [UInt32]) throws {
        try environment.write { txn in _ = try txn.put(serving, Self.promotedKey, stack.flatMap { KeyBuilder.key($0) }) }
    }

    /// Writes `canary` (new, or its later state).
    public func save(_ canary: Canary) throws {
        let json = try JSONEncoder().encode(canary)
        try environment.write { txn in _ = try txn.put(serving, Self.canaryPrefix + KeyBuilder.key(canary.id), Array(json)) }
    }

    /// Canaries, oldest first: all, or the newest `limit`.
    public func canaries(limit: Int = .max) throws -> [Canary] {
        try environment.read { txn in
            var found: [Canary] = []
            try txn.scan(serving, from: Self.canaryPrefix + KeyBuilder.key(UInt32(0)), to: Self.canaryPrefix + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                         reverse: true) { _, value in
                if let canary = try? JSONDecoder().decode(Canary.self, from: Data(value)) { found.append(canary) }
                return found.count < limit
            }
            return found.reversed()
        }
    }
}
