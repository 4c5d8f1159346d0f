import Foundation
import LMDB

/// A store written by an onerec whose layout this one does not read.
public struct StoreLayoutError: Error, CustomStringConvertible {
    public let path: String
    public let found: UInt32
    public var description: String {
        "the store at \(path) has layout version \(found); this onerec reads version \(StoreLayout.version)"
    }
}

/// The `meta` database: the layout version the store was written with (and when it was created), so a
/// store written by a newer onerec is refused instead of misread.
enum StoreLayout {
    /// Layout version this build writes and reads.
    static let version: UInt32 = 3
    static let versionKey = Array("layout-version".utf8)

    /// A writer's check: records the version in a new store, refuses a store of another version.
    static func claim(_ environment: Environment) throws {
        let meta = try environment.openDatabase("meta")
        let found: UInt32? = try environment.write { txn in
            if let stored = try txn.get(meta, versionKey) { return decode(stored) }
            try txn.put(meta, versionKey, KeyBuilder.key(version))
            try txn.put(meta, Array("created-at".utf8), KeyBuilder.key(UInt64(Date().timeIntervalSince1970)))
            return nil
        }
        if let found, found != version { throw StoreLayoutError(path: environment.path, found: found) }
    }

    /// A reader's check: refuses a store of another version; one that records none (written before the
    /// layout was recorded, or not yet by any daemon) is read as it is.
    static func check(_ environment: Environment) throws {
        let meta: Database
        do {
            meta = try environment.openDatabase("meta")
        } catch let error as LMDBError where error.code == LMDBError.notFound {
            return
        }
        guard let stored = try environment.read({ txn in try txn.get(meta, versionKey) }) else { return }
        let found = decode(stored)
        if found != version { throw StoreLayoutError(path: environment.path, found: found) }
    }

    private static func decode(_ stored: [UInt8]) -> UInt32 {
        var reader = KeyReader(stored)
        return stored.count == 4 ? reader.read(UInt32.self) : 0
    }
}
