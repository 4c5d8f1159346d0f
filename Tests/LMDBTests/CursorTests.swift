import LMDB
import TestSupport
import Testing

@Suite struct CursorTests {
    /// Keys (user, time) big-endian, values the time.
    func fill(_ env: Environment, _ db: Database) throws {
        try env.write { (txn) throws in
            for user in [UInt64(1), 2, 300] {
                for time in [UInt32(5), 1, 70000, 3] {
                    var key = KeyBuilder()
                    key.append(user)
                    key.append(time)
                    try txn.put(db, key.bytes, KeyBuilder.key(time))
                }
            }
        }
    }

    func scan(_ env: Environment, _ db: Database, from: [UInt8]?, to: [UInt8]?, reverse: Bool = false, limit: Int = .max) throws -> [(UInt64, UInt32)] {
        var seen: [(UInt64, UInt32)] = []
        try env.read { (txn) throws in
            try txn.scan(db, from: from, to: to, reverse: reverse) { key, _ in
                var reader = KeyReader(key)
                seen.append((reader.read(UInt64.self), reader.read(UInt32.self)))
                return seen.count < limit
            }
        }
        return seen
    }

    @Test func rangeScansFollowBigEndianOrder() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let env = try Environment(path: dir.path)
        let db = try env.openDatabase("events")
        try fill(env, db)
        // One user's events, oldest first: numeric order, not byte order of little-endian integers.
        let user2 = try scan(env, db, from: KeyBuilder.key(UInt64(2)), to: KeyBuilder.key(UInt64(3)))
        #expect(user2.map(\.1) == [1, 3, 5, 70000])
        #expect(user2.allSatisfy { $0.0 == 2 })
        // Newest first, stopping after two.
        let newest = try scan(env, db, from: KeyBuilder.key(UInt64(2)), to: KeyBuilder.key(UInt64(3)), reverse: true, limit: 2)
        #expect(newest.map(\.1) == [70000, 5])
        // Open-ended scans.
        #expect(try scan(env, db, from: nil, to: nil).count == 12)
        #expect(try scan(env, db, from: KeyBuilder.key(UInt64(300)), to: nil).count == 4)
        #expect(try scan(env, db, from: nil, to: nil, reverse: true).first! == (300, 70000))
        #expect(try scan(env, db, from: KeyBuilder.key(UInt64(301)), to: nil).isEmpty)
        #expect(try scan(env, db, from: nil, to: KeyBuilder.key(UInt64(1)), reverse: true).isEmpty)
    }

    @Test func reverseKeyDatabasesSortFromTheLastByte() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let env = try Environment(path: dir.path)
        let db = try env.openDatabase("rev", flags: [.create, .reverseKey])
        try env.write { (txn) throws in
            try txn.put(db, [1, 2], [0])
            try txn.put(db, [2, 1], [0])
        }
        var keys: [[UInt8]] = []
        try env.read { txn in try txn.scan(db) { key, _ in keys.append(key); return true } }
        #expect(keys == [[2, 1], [1, 2]])
    }
}
