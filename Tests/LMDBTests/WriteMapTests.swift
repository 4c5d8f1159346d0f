import Glibc
import LMDB
import TestSupport
import Testing

/// `.writeMap` stores: LMDB writes through the map, so the map must be backed on disk before any page of
/// it is written (an unbacked page on a full disk is a SIGBUS, not an error).
@Suite struct WriteMapTests {
    func options(reserve: (@Sendable (Int32, Int) -> Int32)? = nil) -> Environment.Options {
        var options = Environment.Options()
        (options.flags, options.mapSize) = ([.writeMap], 1 << 20)
        if let reserve { options.reserve = reserve }
        return options
    }

    /// Bytes the store's data file holds on disk (not its apparent, sparse size).
    func allocated(_ dir: TempDirectory) -> Int {
        var st = stat()
        #expect(stat(dir.path + "/data.mdb", &st) == 0)
        return Int(st.st_blocks) * 512
    }

    @Test func theWholeMapIsReservedOnDiskAndAgainWhenItGrows() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let env = try Environment(path: dir.path, options: options())
        #expect(allocated(dir) >= 1 << 20)
        try TransactionTests.fillsEightMegabytesInMegabyteTransactions(env)  // the map grows three times
        #expect(allocated(dir) >= env.mapSize)
    }

    @Test func aDiskWithoutRoomForAGrownMapFailsTheWriteAndKeepsTheStore() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let value = [UInt8](repeating: 9, count: 4096)
        do {
            // A disk with room for the 1 MiB map and no more.
            let env = try Environment(path: dir.path, options: options { fd, bytes in bytes > 1 << 20 ? ENOSPC : posix_fallocate(fd, 0, off_t(bytes)) })
            let db = try env.openDatabase("t")
            try env.write { (txn) throws in for i in 0..<64 { try txn.put(db, KeyBuilder.key(UInt32(i)), value) } }
            let error = #expect(throws: LMDBError.self) {
                try env.write { (txn) throws in for i in 64..<512 { try txn.put(db, KeyBuilder.key(UInt32(i)), value) } }
            }
            #expect(error?.code == ENOSPC)
            #expect(env.mapSize == 1 << 20)
            try env.write { (txn) throws in try txn.put(db, KeyBuilder.key(UInt32(64)), value) }  // what fits still does
            try env.read { (txn) throws in #expect(try txn.count(db) == 65) }
        }
        // With room again, the same write goes through and nothing earlier is lost.
        let env = try Environment(path: dir.path, options: options())
        let db = try env.openDatabase("t")
        try env.write { (txn) throws in for i in 64..<512 { try txn.put(db, KeyBuilder.key(UInt32(i)), value) } }
        try env.read { (txn) throws in
            #expect(try txn.count(db) == 512)
            #expect(try txn.get(db, KeyBuilder.key(UInt32(0))) == value)
        }
    }
}
