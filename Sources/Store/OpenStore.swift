import LMDB

/// A store directory as this process opened it, and the one way to its contents: for writing (the
/// daemon, or a command that writes while no daemon runs), holding the store's `WriterLock` for as long
/// as this object lives; or read-only (any number of processes, beside a running writer: the inspection
/// commands). Each part of the store is a typed facade over its own databases: `history()`,
/// `codebooks()`, `models()`, `alignment()`, `served()`; the layout version is checked on opening
/// (`StoreLayout`).
///
/// Writers open the environment with LMDB's write map (`MDB_WRITEMAP`): LMDB writes pages through the
/// map instead of copying each dirty page into a buffer of its own and writing the copies at commit. The
/// map is reserved on disk when it is opened and whenever it grows (`Environment.reserveMap`), so a full
/// disk fails a write with ENOSPC instead of killing the process with SIGBUS; it starts at `mapSizeMiB`
/// or the data file's size, whichever is larger, and doubles when full.
public final class OpenStore: Sendable {
    let environment: Environment
    private let lock: WriterLock?
    /// A writer's one record of answers, shared by every facade it hands out (answers wait in it).
    private let answers: ServedRequests?

    init(environment: Environment, lock: WriterLock?) throws {
        self.environment = environment
        self.lock = lock
        answers = environment.isReadOnly ? nil : try ServedRequests(environment: environment)
    }

    /// Opens (creating if needed) the store at `path` for writing, as `holder` (e.g. "onerec serve").
    /// Throws `StoreInUse` if another process writes it, `StoreLayoutError` if another onerec's layout is
    /// there, an `LMDBError` if the directory is unusable.
    public static func forWriting(path: String, mapSizeMiB: Int, holder: String) throws -> OpenStore {
        let lock = try WriterLock(directory: path, holder: holder)  // first, so no writer changes the file while the map is sized
        var options = Environment.Options()
        options.mapSize = mapSizeMiB << 20
        options.flags = [.writeMap]
        let environment = try Environment(path: path, options: options)
        try StoreLayout.claim(environment)
        return try OpenStore(environment: environment, lock: lock)
    }

    /// Opens an existing store read-only: it sees what writers have committed, live, and never changes
    /// the store's files.
    public static func readOnly(path: String) throws -> OpenStore {
        let store = try OpenStore(environment: try Environment(path: path, options: .readOnly), lock: nil)
        try StoreLayout.check(store.environment)
        return store
    }

    public var path: String { environment.path }
    /// Bytes mapped now (the map grows as the store does).
    public var mapSize: Int { environment.mapSize }

    /// Interactions, the catalog and Kafka offsets (a writer's joins its interactions to `served()`).
    public func history() throws -> HistoryStore { try part("history") { try HistoryStore(environment: $0, served: answers) } }
    /// Codebook versions and every item's codes.
    public func codebooks() throws -> CodebookStore { try part("codebooks") { try CodebookStore(environment: $0) } }
    /// Model version records and the promotion stack.
    public func models() throws -> ModelRecords { try part("model records") { try ModelRecords(environment: $0) } }
    /// The answers served in the retention window and each version's realised outcomes.
    public func served() throws -> ServedRequests { try answers ?? part("served requests") { try ServedRequests(environment: $0) } }
    /// Finished alignment rounds and their preference pairs.
    public func alignment() throws -> AlignmentLog { try part("alignment log") { try AlignmentLog(environment: $0) } }

    /// A part's facade; read-only, `StorePartMissing` until a writer has created the part's databases.
    private func part<T>(_ name: String, _ open: (Environment) throws -> T) throws -> T {
        do {
            return try open(environment)
        } catch let error as LMDBError where error.code == LMDBError.notFound && environment.isReadOnly {
            throw StorePartMissing(path: environment.path, part: name)
        }
    }

    /// The LMDB library's version, e.g. "LMDB 0.9.24: (July 24, 2019)".
    public static var libraryVersion: String { lmdbVersion }
}

/// A read-only open of a store in which no writer has created this part yet (a daemon creates them all
/// when it starts; `onerec codebook build` only the codebooks).
public struct StorePartMissing: Error, CustomStringConvertible {
    public let path: String, part: String
    public var description: String { "the store at \(path) has no \(part) yet" }
}
