import Dispatch
import LMDB
import TestSupport
import Testing

@Suite struct TransactionTests {
    struct Planned: Error {}

    @Test func commitsOnReturnAndAbortsOnThrow() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let env = try Environment(path: dir.path)
        let db = try env.openDatabase("t")
        try env.write { txn in try txn.put(db, [1], [10]) }
        #expect(throws: Planned.self) {
            try env.write { (txn) throws in
                try txn.put(db, [2], [20])
                try txn.put(db, [1], [99])
                throw Planned()
            }
        }
        try env.read { (txn) throws in
            #expect(try txn.get(db, [1]) == [10])
            #expect(try txn.get(db, [2]) == nil)
            #expect(try txn.count(db) == 1)
        }
    }

    @Test func mapGrowsWhenFull() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var options = Environment.Options()
        options.mapSize = 1 << 20
        let env = try Environment(path: dir.path, options: options)
        try Self.fillsEightMegabytesInMegabyteTransactions(env)
    }

    /// Writes 8 MB in transactions of 1 MB into a 1 MB map (each fills the map at least once), then checks
    /// the map grew and everything reads back.
    static func fillsEightMegabytesInMegabyteTransactions(_ env: Environment) throws {
        let db = try env.openDatabase("big")
        let value = [UInt8](repeating: 7, count: 4096)
        for chunk in 0..<8 {
            try env.write { (txn) throws in
                for i in 0..<256 { try txn.put(db, KeyBuilder.key(UInt32(chunk * 256 + i)), value) }
            }
        }
        #expect(env.mapSize >= 8 << 20)
        try env.read { (txn) throws in
            #expect(try txn.count(db) == 2048)
            #expect(try txn.get(db, KeyBuilder.key(UInt32(2047))) == value)
        }
    }

    @Test func readerKeepsItsSnapshotWhileAWriterCommits() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let env = try Environment(path: dir.path)
        let db = try env.openDatabase("snap")
        try env.write { (txn) throws in
            try txn.put(db, [1], [1])
            try txn.put(db, [2], [1])
        }
        try env.read { (txn) throws in
            #expect(try txn.get(db, [1]) == [1])
            // Another thread commits while this snapshot is open; it must not wait for the reader.
            let committed = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                try! env.write { (w) throws in
                    try w.put(db, [1], [2])
                    try w.put(db, [2], [2])
                    try w.put(db, [3], [2])
                }
                committed.signal()
            }
            #expect(committed.wait(timeout: .now() + 10) == .success)
            #expect(try txn.get(db, [1]) == [1])
            #expect(try txn.get(db, [2]) == [1])
            #expect(try txn.get(db, [3]) == nil)
            #expect(try txn.count(db) == 2)
        }
        try env.read { (txn) throws in
            #expect(try txn.get(db, [1]) == [2])
            #expect(try txn.count(db) == 3)
        }
    }

    @Test func noOverwriteKeepsTheOldValueAndDeleteReportsMissingKeys() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let env = try Environment(path: dir.path)
        let db = try env.openDatabase("once")
        let results = try env.write { (txn) throws in
            (try txn.put(db, [5], [1], flags: .noOverwrite), try txn.put(db, [5], [2], flags: .noOverwrite),
             try txn.delete(db, [6]))
        }
        #expect(results == (true, false, false))
        try env.read { (txn) throws in #expect(try txn.get(db, [5]) == [1]) }
    }

    @Test func reservingAndRawPutsStoreTheBytesGiven() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let env = try Environment(path: dir.path)
        let db = try env.openDatabase("t")
        let key: [UInt8] = [1, 2], payload: [UInt8] = [7, 8, 9]
        try env.write { (txn) throws in
            try key.withUnsafeBytes { k in
                let stored = try txn.put(db, key: k, reserving: 4) { out in
                    out[0] = 0xAA
                    payload.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: out[1...]).copyMemory(from: $0) }
                }
                // An existing key with .noOverwrite: refused, and the value is never asked for.
                let again = try txn.put(db, key: k, reserving: 4, flags: .noOverwrite) { _ in Issue.record("fill called for a refused put") }
                #expect(stored && !again)
            }
            let raw = try payload.withUnsafeBytes { v in try txn.put(db, key: v, value: v) }
            #expect(raw)
        }
        try env.read { (txn) throws in
            #expect(try txn.get(db, key) == [0xAA, 7, 8, 9])
            #expect(try txn.get(db, payload) == payload)
        }
    }

    @Test func databasesAreSeparateAndSurviveReopen() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        do {
            let env = try Environment(path: dir.path)
            let a = try env.openDatabase("a")
            let b = try env.openDatabase("b")
            try env.write { (txn) throws in
                try txn.put(a, [1], [1])
                try txn.put(b, [1], [2])
            }
        }
        let env = try Environment(path: dir.path)
        let a = try env.openDatabase("a", flags: [])
        let b = try env.openDatabase("b", flags: [])
        try env.read { (txn) throws in
            #expect(try txn.get(a, [1]) == [1])
            #expect(try txn.get(b, [1]) == [2])
        }
        #expect(throws: LMDBError.self) { try env.openDatabase("missing", flags: []) }
    }
}
