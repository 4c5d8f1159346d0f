import CLMDB

/// A read transaction: one consistent snapshot of the store. Values returned are copies, so they stay
/// valid after the transaction ends. Only usable inside the closure that received it.
public class Transaction {
    let txn: OpaquePointer
    private var finished = false

    required init(txn: OpaquePointer) { self.txn = txn }

    static func begin(env: OpaquePointer, readOnly: Bool) throws(LMDBError) -> Self {
        var handle: OpaquePointer?
        try check(mdb_txn_begin(env, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &handle), "mdb_txn_begin")
        guard let handle else { preconditionFailure("mdb_txn_begin returned no handle") }
        return Self(txn: handle)
    }

    func commit() throws(LMDBError) {
        precondition(!finished, "transaction used after it ended")
        finished = true
        try check(mdb_txn_commit(txn), "mdb_txn_commit")
    }

    func abort() {
        guard !finished else { return }
        finished = true
        mdb_txn_abort(txn)
    }

    /// The value stored under `key`, copied out, or nil.
    public func get(_ db: Database, _ key: [UInt8]) throws -> [UInt8]? {
        try key.withUnsafeBytes { k in
            var mk = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            var mv = MDB_val()
            let rc = mdb_get(txn, db.dbi, &mk, &mv)
            if rc == MDB_NOTFOUND { return nil }
            try check(rc, "mdb_get(\(db.name ?? "main"))")
            return copy(mv)
        }
    }

    /// Number of entries in `db`.
    public func count(_ db: Database) throws -> Int {
        var st = MDB_stat()
        try check(mdb_stat(txn, db.dbi, &st), "mdb_stat(\(db.name ?? "main"))")
        return st.ms_entries
    }

    /// Calls `body` with each entry whose key is in `[from, to)` (all keys if nil), in key order or in
    /// reverse; `body` returns false to stop. Keys and values are copies.
    public func scan(
        _ db: Database, from lower: [UInt8]? = nil, to upper: [UInt8]? = nil, reverse: Bool = false,
        _ body: (_ key: [UInt8], _ value: [UInt8]) throws -> Bool
    ) throws {
        let cursor = try Cursor(txn: txn, db: db)
        defer { cursor.close() }
        var entry = try reverse ? cursor.seekLast(before: upper) : cursor.seek(atLeast: lower)
        while let (key, value) = entry {
            if reverse, let lower, key.lexicographicallyPrecedes(lower) { return }
            if !reverse, let upper, !key.lexicographicallyPrecedes(upper) { return }
            guard try body(key, value) else { return }
            entry = try cursor.step(reverse ? MDB_PREV : MDB_NEXT)
        }
    }
}

/// A write transaction: everything a read transaction does, plus changes that become visible to
/// other transactions only when the enclosing `Environment.write` closure returns.
public final class WriteTransaction: Transaction {
    /// Stores `value` under `key`. With `.noOverwrite`, returns false (and changes nothing) if the key
    /// exists; otherwise returns true.
    @discardableResult
    public func put(_ db: Database, _ key: [UInt8], _ value: [UInt8], flags: WriteFlags = []) throws -> Bool {
        try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try put(db, key: k, value: v, flags: flags) } }
    }

    /// `put` for bytes already in memory (no arrays made per entry).
    @discardableResult
    public func put(_ db: Database, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: WriteFlags = []) throws -> Bool {
        try Inserter(txn: self, db: db, cursor: nil).put(key: key, value: value, flags: flags)
    }

    /// Stores a value of `count` bytes under `key`, written in place by `fill` (see `Inserter`).
    @discardableResult
    public func put(_ db: Database, key: UnsafeRawBufferPointer, reserving count: Int, flags: WriteFlags = [],
                    fill: (UnsafeMutableRawBufferPointer) -> Void) throws -> Bool {
        try Inserter(txn: self, db: db, cursor: nil).put(key: key, reserving: count, flags: flags, fill: fill)
    }

    /// Runs `body` with puts into `db` through one cursor: LMDB starts each put from the leaf page the
    /// previous one landed on, so keys put in order (or close together) skip the descent from the root.
    public func inserting<R>(into db: Database, _ body: (Inserter) throws -> R) throws -> R {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, db.dbi, &cursor), "mdb_cursor_open(\(db.name ?? "main"))")
        defer { mdb_cursor_close(cursor) }
        return try body(Inserter(txn: self, db: db, cursor: cursor))
    }

    /// Deletes `key`; returns false if it was not there.
    @discardableResult
    public func delete(_ db: Database, _ key: [UInt8]) throws -> Bool {
        let rc = key.withUnsafeBytes { k in
            var mk = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            return mdb_del(txn, db.dbi, &mk, nil)
        }
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "mdb_del(\(db.name ?? "main"))")
        return true
    }

    /// Removes every entry of `db` (the database itself stays).
    public func clear(_ db: Database) throws {
        try check(mdb_drop(txn, db.dbi, 0), "mdb_drop(\(db.name ?? "main"))")
    }
}

/// Puts into one database of a write transaction, through a cursor when it has one (`inserting`).
public struct Inserter {
    fileprivate let txn: WriteTransaction
    fileprivate let db: Database
    fileprivate let cursor: OpaquePointer?

    /// Stores `value` under `key`. With `.noOverwrite`, returns false (and changes nothing) if the key
    /// exists; otherwise returns true.
    @discardableResult
    public func put(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: WriteFlags = []) throws -> Bool {
        var mv = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        return try put(key: key, value: &mv, flags: flags)
    }

    /// Stores a value of `count` bytes under `key`, written in place by `fill` (LMDB's MDB_RESERVE: the
    /// value is assembled where it will live, not in a temporary first). With `.noOverwrite` and an
    /// existing key, returns false without calling `fill`.
    @discardableResult
    public func put(key: UnsafeRawBufferPointer, reserving count: Int, flags: WriteFlags = [],
                    fill: (UnsafeMutableRawBufferPointer) -> Void) throws -> Bool {
        var mv = MDB_val(mv_size: count, mv_data: nil)
        guard try put(key: key, value: &mv, flags: flags.union(WriteFlags(rawValue: UInt32(MDB_RESERVE)))) else { return false }
        fill(UnsafeMutableRawBufferPointer(start: mv.mv_data, count: count))
        return true
    }

    private func put(key: UnsafeRawBufferPointer, value mv: inout MDB_val, flags: WriteFlags) throws -> Bool {
        var mk = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        let rc = if let cursor { mdb_cursor_put(cursor, &mk, &mv, flags.rawValue) } else { mdb_put(txn.txn, db.dbi, &mk, &mv, flags.rawValue) }
        if rc == MDB_KEYEXIST && flags.contains(.noOverwrite) { return false }
        try check(rc, "mdb_put(\(db.name ?? "main"))")
        return true
    }
}

func copy(_ v: MDB_val) -> [UInt8] {
    guard v.mv_size > 0, let data = v.mv_data else { return [] }
    return Array(UnsafeRawBufferPointer(start: data, count: v.mv_size))
}
