import CLMDB
import Glibc

/// An LMDB environment: one directory holding a memory-mapped B+tree file and its lock file.
///
/// Transactions are synchronous closures: `write` commits when its closure returns and aborts when it
/// throws; `read` sees one consistent snapshot. Never `await` inside either: an LMDB write transaction
/// belongs to one thread. When a write fills the map, the map is grown and the closure runs again.
public final class Environment: @unchecked Sendable {
    // @unchecked: `env` is used under LMDB's own rules (MDB_NOTLS readers, one writer at a time via
    // `writeLock`), and `mapLock` excludes every transaction of this process while the map is resized.

    public struct Options: Sendable {
        /// Initial map size in bytes (grown on MDB_MAP_FULL). Default 1 GiB; the file is sparse (with
        /// `.writeMap` the whole map is reserved on disk instead, see `reserveMap`). Never taken below the
        /// data file's size (see `init`); ignored by `.readOnly` environments, which map what the store records.
        public var mapSize: Int = 1 << 30
        /// The map never grows past this (bytes). Default 1 TiB.
        public var maxMapSize: Int = 1 << 40
        /// Named databases the environment can hold. Default 32.
        public var maxDatabases: Int = 32
        /// Concurrent read transactions. Default 126 (LMDB's default).
        public var maxReaders: Int = 126
        /// Extra flags; `.noTLS` is always added.
        public var flags: EnvironmentFlags = []
        /// File mode for new files. Default 0o640.
        public var fileMode: mode_t = 0o640
        /// How disk is reserved for the whole map when `flags` has `.writeMap` (see `reserveMap`): returns 0
        /// or an errno. Default `posix_fallocate`; tests replace it to play a full disk.
        public var reserve: @Sendable (_ fd: Int32, _ bytes: Int) -> Int32 = { fd, bytes in posix_fallocate(fd, 0, off_t(bytes)) }

        public init() {}

        /// For reading a store that another process may be writing: `MDB_RDONLY` (LMDB then maps the
        /// file read-only, never truncates or extends it and ignores a write map).
        public static var readOnly: Options {
            var options = Options()
            options.flags = [.readOnly]
            return options
        }
    }

    let env: OpaquePointer
    public let path: String
    private let options: Options
    private let mapLock = RWLock()
    private let writerLock = RWLock()

    /// Opens (creating if needed) the environment in directory `path`.
    ///
    /// With `.writeMap` LMDB sets the data file's length to the map size when it maps it, so a map
    /// smaller than the file would cut off pages that another process, or a later transaction, still
    /// reaches through its own map (a SIGBUS). The map is therefore never set below the file's current
    /// size, whatever `options.mapSize` says; a read-only environment maps what the store's meta page
    /// records (LMDB's rule for a map size of 0) and never changes the file.
    public init(path: String, options: Options = Options()) throws {
        self.path = path
        var options = options
        let readOnly = options.flags.contains(.readOnly)
        try Self.prepareDirectory(path, readOnly: readOnly)
        options.mapSize = readOnly ? 0 : max(options.mapSize, try Self.dataFileSize(path))
        self.options = options

        var handle: OpaquePointer?
        try check(mdb_env_create(&handle), "mdb_env_create")
        guard let handle else { preconditionFailure("mdb_env_create returned no handle") }
        do {
            try check(mdb_env_set_maxdbs(handle, MDB_dbi(options.maxDatabases)), "mdb_env_set_maxdbs")
            try check(mdb_env_set_maxreaders(handle, UInt32(options.maxReaders)), "mdb_env_set_maxreaders")
            try check(mdb_env_set_mapsize(handle, options.mapSize), "mdb_env_set_mapsize")
            let flags = options.flags.union(.noTLS).rawValue
            try check(mdb_env_open(handle, path, flags, options.fileMode), "open LMDB store at \(path)")
            var info = MDB_envinfo()
            try check(mdb_env_info(handle, &info), "mdb_env_info")
            try Self.reserveMap(handle, bytes: info.me_mapsize, options: options, path: path)
        } catch {
            mdb_env_close(handle)
            throw error
        }
        env = handle
    }

    /// With `.writeMap`, LMDB writes pages through the map into a sparse file; a page the file system
    /// cannot back (a full disk) would then kill the process with SIGBUS instead of failing the write.
    /// So the whole map is reserved on disk when it is opened and each time it grows: a full disk fails
    /// the open or the growth with ENOSPC, and the store keeps what it has.
    private static func reserveMap(_ env: OpaquePointer, bytes: Int, options: Options, path: String) throws(LMDBError) {
        guard options.flags.contains(.writeMap), !options.flags.contains(.readOnly) else { return }
        var fd: Int32 = -1
        try check(mdb_env_get_fd(env, &fd), "mdb_env_get_fd")
        let rc = options.reserve(fd, bytes)
        if rc != 0 { throw LMDBError(code: rc, operation: "reserve \(bytes >> 20) MiB on disk for the LMDB map of \(path)") }
    }

    deinit { mdb_env_close(env) }

    /// Whether this environment was opened `.readOnly`.
    public var isReadOnly: Bool { options.flags.contains(.readOnly) }

    /// The length of the store's data file, 0 if there is none yet.
    private static func dataFileSize(_ path: String) throws(LMDBError) -> Int {
        var st = stat()
        if stat(path + "/data.mdb", &st) == 0 { return Int(st.st_size) }
        guard errno == ENOENT else { throw LMDBError(code: errno, operation: "stat \(path)/data.mdb") }
        return 0
    }

    /// A directory that exists and that we may write to; a clear error otherwise.
    private static func prepareDirectory(_ path: String, readOnly: Bool) throws(LMDBError) {
        var st = stat()
        if stat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw LMDBError(code: ENOTDIR, operation: "open LMDB store at \(path)")
            }
        } else if errno == ENOENT {
            if mkdir(path, 0o750) != 0 { throw LMDBError(code: errno, operation: "create store directory \(path)") }
        } else {
            throw LMDBError(code: errno, operation: "stat store directory \(path)")
        }
        if !readOnly && access(path, W_OK) != 0 {
            throw LMDBError(code: errno, operation: "open LMDB store at \(path)")
        }
    }

    /// Opens (or with `.create`, creates) a named database; `nil` names the unnamed main database. In a
    /// read-only environment `.create` is dropped: a database that does not exist yet is `MDB_NOTFOUND`.
    public func openDatabase(_ name: String?, flags: DatabaseFlags = [.create]) throws -> Database {
        guard isReadOnly else {
            return try write { txn in try Self.open(name, flags: flags, in: txn) }
        }
        // A handle opened in a read transaction lasts only if that transaction commits (LMDB closes it on abort).
        return try retryingResize {
            try mapLock.shared {
                let txn = try Transaction.begin(env: env, readOnly: true)
                do {
                    let database = try Self.open(name, flags: flags.subtracting(.create), in: txn)
                    try txn.commit()
                    return database
                } catch {
                    txn.abort()
                    throw error
                }
            }
        }
    }

    private static func open(_ name: String?, flags: DatabaseFlags, in txn: Transaction) throws(LMDBError) -> Database {
        var dbi = MDB_dbi()
        try check(mdb_dbi_open(txn.txn, name, flags.rawValue, &dbi), "mdb_dbi_open(\(name ?? "main"))")
        return Database(dbi: dbi, name: name)
    }

    /// Runs `body` in a read-only transaction that sees one consistent snapshot.
    public func read<T>(_ body: (Transaction) throws -> T) throws -> T {
        try retryingResize {
            try mapLock.shared {
                let txn = try Transaction.begin(env: env, readOnly: true)
                defer { txn.abort() }
                return try body(txn)
            }
        }
    }

    /// Runs `body` in a write transaction: commits on return, aborts on throw. If the map is full the
    /// transaction is aborted, the map doubled (up to `maxMapSize`) and `body` runs again from scratch,
    /// so `body` must not have effects outside the transaction.
    @discardableResult
    public func write<T>(_ body: (WriteTransaction) throws -> T) throws -> T {
        while true {
            do {
                return try retryingResize {
                    try writerLock.exclusive {
                        try mapLock.shared {
                            let txn = try WriteTransaction.begin(env: env, readOnly: false)
                            do {
                                let result = try body(txn)
                                try txn.commit()
                                return result
                            } catch {
                                txn.abort()
                                throw error
                            }
                        }
                    }
                }
            } catch let error as LMDBError where error.code == MDB_MAP_FULL {
                try grow(from: error)
            }
        }
    }

    /// Runs `body` again after adopting a map that another process grew (MDB_MAP_RESIZED).
    private func retryingResize<T>(_ body: () throws -> T) throws -> T {
        while true {
            do {
                return try body()
            } catch let error as LMDBError where error.code == MDB_MAP_RESIZED {
                try mapLock.exclusive { () throws(LMDBError) in
                    try check(mdb_env_set_mapsize(env, 0), "adopt resized LMDB map of \(path)")
                }
            }
        }
    }

    /// The current map size in bytes.
    public var mapSize: Int {
        var info = MDB_envinfo()
        let rc = mdb_env_info(env, &info)
        precondition(rc == MDB_SUCCESS, "mdb_env_info: \(rc)")
        return info.me_mapsize
    }

    /// Flushes buffers to disk (only needed with `.noSync` or `.mapAsync`).
    public func sync(force: Bool = true) throws {
        try check(mdb_env_sync(env, force ? 1 : 0), "mdb_env_sync(\(path))")
    }

    private func grow(from error: LMDBError) throws {
        try mapLock.exclusive {
            let current = mapSize
            guard current < options.maxMapSize else { throw error }
            let next = min(current * 2, options.maxMapSize)
            try check(mdb_env_set_mapsize(env, next), "grow LMDB map of \(path) to \(next) bytes")
            do {
                try Self.reserveMap(env, bytes: next, options: options, path: path)
            } catch {
                // Back to the map that is reserved, so no page beyond it is ever written.
                try check(mdb_env_set_mapsize(env, current), "shrink LMDB map of \(path) back to \(current) bytes")
                throw error
            }
        }
    }
}

/// A handle to a named database; valid for the life of its environment.
public struct Database: Sendable, Hashable {
    let dbi: MDB_dbi
    public let name: String?
}

/// The linked LMDB's version string, e.g. "LMDB 0.9.24: (July 24, 2019)".
public var lmdbVersion: String { String(cString: mdb_version(nil, nil, nil)) }
