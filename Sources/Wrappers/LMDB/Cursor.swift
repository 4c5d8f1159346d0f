import CLMDB

/// A cursor over one database inside one transaction; closed before the transaction ends.
struct Cursor {
    private let cursor: OpaquePointer
    private let db: Database

    init(txn: OpaquePointer, db: Database) throws(LMDBError) {
        var handle: OpaquePointer?
        try check(mdb_cursor_open(txn, db.dbi, &handle), "mdb_cursor_open(\(db.name ?? "main"))")
        guard let handle else { preconditionFailure("mdb_cursor_open returned no handle") }
        cursor = handle
        self.db = db
    }

    func close() { mdb_cursor_close(cursor) }

    /// The first entry with key >= `key` (the first entry if nil).
    func seek(atLeast key: [UInt8]?) throws(LMDBError) -> ([UInt8], [UInt8])? {
        guard let key else { return try step(MDB_FIRST) }
        return try position(key, MDB_SET_RANGE)
    }

    /// The last entry with key < `key` (the last entry if nil).
    func seekLast(before key: [UInt8]?) throws(LMDBError) -> ([UInt8], [UInt8])? {
        guard let key else { return try step(MDB_LAST) }
        // Land on the first key >= `key`, then step back once; past the end, the last entry is the answer.
        guard try position(key, MDB_SET_RANGE) != nil else { return try step(MDB_LAST) }
        return try step(MDB_PREV)
    }

    /// Moves the cursor by `op` and returns the entry there, or nil at either end.
    func step(_ op: MDB_cursor_op) throws(LMDBError) -> ([UInt8], [UInt8])? {
        var mk = MDB_val()
        var mv = MDB_val()
        return try result(mdb_cursor_get(cursor, &mk, &mv, op), mk, mv)
    }

    private func position(_ key: [UInt8], _ op: MDB_cursor_op) throws(LMDBError) -> ([UInt8], [UInt8])? {
        var rc: Int32 = 0
        var mk = MDB_val()
        var mv = MDB_val()
        key.withUnsafeBytes { k in
            mk = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            rc = mdb_cursor_get(cursor, &mk, &mv, op)
        }
        return try result(rc, mk, mv)
    }

    private func result(_ rc: Int32, _ mk: MDB_val, _ mv: MDB_val) throws(LMDBError) -> ([UInt8], [UInt8])? {
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_cursor_get(\(db.name ?? "main"))")
        return (copy(mk), copy(mv))
    }
}
