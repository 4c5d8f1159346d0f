import CLMDB
import Glibc

/// An LMDB return code with LMDB's own message and the operation that produced it.
public struct LMDBError: Error, Equatable, CustomStringConvertible {
    /// The raw return code (an `MDB_*` constant or an errno value).
    public let code: Int32
    /// What the wrapper was doing, e.g. `mdb_env_open(/var/lib/onerec/store)`.
    public let operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    public static let notFound = MDB_NOTFOUND
    public static let keyExists = MDB_KEYEXIST
    public static let mapFull = MDB_MAP_FULL
    public static let mapResized = MDB_MAP_RESIZED

    /// LMDB's message for the code (it covers errno values too).
    public var message: String { String(cString: mdb_strerror(code)) }

    public var description: String {
        "\(operation): \(message)" + (hint.map { " (\($0))" } ?? "")
    }

    /// What an operator can do about it, where there is something to do.
    var hint: String? {
        switch code {
        case ENOTDIR: "the store path must be a directory, not a file"
        case EACCES, EROFS, EPERM: "give the daemon's user write access to the store directory"
        case ENOSPC: "free disk space or move the store"
        case MDB_MAP_FULL: "raise the store's map size"
        case MDB_READERS_FULL: "too many concurrent readers: raise maxReaders"
        case MDB_DBS_FULL: "too many named databases: raise maxDatabases"
        case MDB_INVALID, MDB_CORRUPTED, MDB_VERSION_MISMATCH: "the store file is not a valid LMDB environment"
        default: nil
        }
    }
}

/// Throws an `LMDBError` unless `rc` is `MDB_SUCCESS`.
@inline(__always)
func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws(LMDBError) {
    if rc != MDB_SUCCESS { throw LMDBError(code: rc, operation: operation()) }
}
