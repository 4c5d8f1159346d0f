import LMDB

/// A store directory as this process opened it: for writing (the daemon, or a command that writes while
/// no daemon runs), holding the store's `WriterLock` for as long as this object lives; or read-only (any
/// number of processes, beside a running writer: the inspection commands).
///
/// Writers open the environment with LMDB's write map (`MDB_WRITEMAP`): LMDB writes pages through the
/// map instead of copying each dirty page into a buffer of its own and writing the copies at commit. The
/// map is reserved on disk when it is opened and whenever it grows (`Environment.reserveMap`), so a full
/// disk fails a write with ENOSPC instead of killing the process with SIGBUS; it starts at `mapSizeMiB`
/// or the data file's size, whichever is larger, and doubles when full.
public final class OpenStore: Sendable {
    public let environment: Environment
    private let lock: WriterLock?

    private init(environment: Environment, lock: WriterLock?) {
        self.environment = environment
        self.lock = lock
    }

    /// Opens (creating if needed) the store at `path` for writing, as `holder` (e.g. "onerec serve").
    /// Throws `StoreInUse` if another process writes it, an `LMDBError` if the directory is unusable.
    public static func forWriting(path: String, mapSizeMiB: Int, holder: String) throws -> OpenStore {
        let lock = try WriterLock(directory: path, holder: holder)  // first, so no writer changes the file while the map is sized
        var options = Environment.Options()
        options.mapSize = mapSizeMiB << 20
        options.flags = [.writeMap]
        return OpenStore(environment: try Environment(path: path, options: options), lock: lock)
    }

    /// Opens an existing store read-only: it sees what writers have committed, live, and never changes
    /// the store's files.
    public static func readOnly(path: String) throws -> OpenStore {
        OpenStore(environment: try Environment(path: path, options: .readOnly), lock: nil)
    }
}
