import Foundation
import LMDB
import Store

/// The daemon's LMDB store: opening it, and the `meta` database that records the store's layout
/// version so a store written by a newer onerec is refused instead of misread.
public final class StateStore: Sendable {
    /// Layout version this build writes and reads.
    public static let layoutVersion: UInt32 = 3

    private let store: OpenStore
    public var environment: Environment { store.environment }
    let meta: Database

    /// Opens (creating if needed) the store at `path` as its one writer, refusing one that another
    /// process writes or that has another layout version.
    public init(path: String, mapSizeMiB: Int) throws {
        do {
            store = try OpenStore.forWriting(path: path, mapSizeMiB: mapSizeMiB, holder: "onerec serve")
        } catch let error as LMDBError {
            throw StartupError("cannot open the store: \(error)", fix: "set store.path (ONEREC_STORE_PATH) to a writable directory")
        } catch let error as StoreInUse {
            throw StartupError("cannot open the store: \(error)",
                               fix: "stop that process first, or set store.path (ONEREC_STORE_PATH) to another directory")
        }
        meta = try store.environment.openDatabase("meta")
        let key = Array("layout-version".utf8)
        let found: UInt32? = try store.environment.write { txn in
            if let stored = try txn.get(meta, key) {
                var reader = KeyReader(stored)
                return stored.count == 4 ? reader.read(UInt32.self) : 0
            }
            try txn.put(meta, key, KeyBuilder.key(Self.layoutVersion))
            try txn.put(meta, Array("created-at".utf8), KeyBuilder.key(UInt64(Date().timeIntervalSince1970)))
            return nil
        }
        if let found, found != Self.layoutVersion {
            throw StartupError(
                "the store at \(path) has layout version \(found); this onerec reads version \(Self.layoutVersion)",
                fix: "run the onerec release that wrote it, or point store.path at a new directory")
        }
    }
}
