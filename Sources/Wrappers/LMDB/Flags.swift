import CLMDB

/// Flags for `mdb_env_open`. Raw values are LMDB's own constants.
public struct EnvironmentFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let noSubdirectory = EnvironmentFlags(rawValue: UInt32(MDB_NOSUBDIR))
    public static let noSync = EnvironmentFlags(rawValue: UInt32(MDB_NOSYNC))
    public static let readOnly = EnvironmentFlags(rawValue: UInt32(MDB_RDONLY))
    public static let noMetaSync = EnvironmentFlags(rawValue: UInt32(MDB_NOMETASYNC))
    public static let writeMap = EnvironmentFlags(rawValue: UInt32(MDB_WRITEMAP))
    public static let mapAsync = EnvironmentFlags(rawValue: UInt32(MDB_MAPASYNC))
    /// Read transactions are not tied to a thread: required for use from Swift tasks.
    public static let noTLS = EnvironmentFlags(rawValue: UInt32(MDB_NOTLS))
    public static let noLock = EnvironmentFlags(rawValue: UInt32(MDB_NOLOCK))
    public static let noReadAhead = EnvironmentFlags(rawValue: UInt32(MDB_NORDAHEAD))
    public static let noMemInit = EnvironmentFlags(rawValue: UInt32(MDB_NOMEMINIT))
}

/// Flags for `mdb_dbi_open`. Raw values are LMDB's own constants (not the environment's).
public struct DatabaseFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let reverseKey = DatabaseFlags(rawValue: UInt32(MDB_REVERSEKEY))
    public static let duplicateSort = DatabaseFlags(rawValue: UInt32(MDB_DUPSORT))
    public static let integerKey = DatabaseFlags(rawValue: UInt32(MDB_INTEGERKEY))
    public static let duplicateFixed = DatabaseFlags(rawValue: UInt32(MDB_DUPFIXED))
    public static let integerDuplicate = DatabaseFlags(rawValue: UInt32(MDB_INTEGERDUP))
    public static let reverseDuplicate = DatabaseFlags(rawValue: UInt32(MDB_REVERSEDUP))
    public static let create = DatabaseFlags(rawValue: UInt32(MDB_CREATE))
}

/// Flags for `mdb_put`. Raw values are LMDB's own constants.
public struct WriteFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let noOverwrite = WriteFlags(rawValue: UInt32(MDB_NOOVERWRITE))
    public static let noDuplicateData = WriteFlags(rawValue: UInt32(MDB_NODUPDATA))
    public static let current = WriteFlags(rawValue: UInt32(MDB_CURRENT))
    public static let append = WriteFlags(rawValue: UInt32(MDB_APPEND))
    public static let appendDuplicate = WriteFlags(rawValue: UInt32(MDB_APPENDDUP))
}
