import Foundation
import Glibc
import LMDB
import TestSupport
import Testing

/// With a write map LMDB sets the data file's length to the map size; no open may ever cut the file
/// short, and read-only opens beside a writing process never change it.
@Suite struct MapSizeTests {
    func fileSize(_ dir: TempDirectory) -> Int {
        var st = stat()
        return stat(dir.path + "/data.mdb", &st) == 0 ? Int(st.st_size) : 0
    }

    func writeMap(mapSize: Int) -> Environment.Options {
        var options = Environment.Options()
        (options.flags, options.mapSize) = ([.writeMap], mapSize)
        return options
    }

    @Test func aWriteMapIsNeverSetBelowTheDataFile() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        do {
            let env = try Environment(path: dir.path, options: writeMap(mapSize: 8 << 20))
            let db = try env.openDatabase("t")
            try env.write { (txn) throws in for i in 0..<100 { try txn.put(db, KeyBuilder.key(UInt32(i)), [UInt8](repeating: 1, count: 1000)) } }
        }
        #expect(fileSize(dir) == 8 << 20)
        let env = try Environment(path: dir.path, options: writeMap(mapSize: 1 << 20))  // a configuration lowered since
        #expect(fileSize(dir) == 8 << 20)
        #expect(env.mapSize == 8 << 20)
        let db = try env.openDatabase("t")
        try env.write { (txn) throws in try txn.put(db, KeyBuilder.key(UInt32(100)), [1]) }
        try env.read { (txn) throws in #expect(try txn.count(db) == 101) }
    }

    /// A child process writes through a growing write map while this one opens the store read-only again
    /// and again, at least until the child's map has grown: the file never shrinks, each open sees at
    /// least what the child had reported committed, and after the child is killed everything it committed
    /// is there.
    @Test func readOnlyOpensBesideAWritingProcessNeverChangeTheFile() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: builtExecutable("lmdb-test-helper"))
        process.arguments = ["writer-writemap", dir.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let reader = PipeReader(output)
        func reported() -> Int {
            var n = 0
            while n == 0 && process.isRunning {
                let committed = reader.text.split(separator: "\n").last { $0.hasPrefix("committed ") }
                n = committed.flatMap { Int($0.dropFirst(10)) } ?? 0
                if n == 0 { usleep(10_000) }
            }
            return n
        }
        #expect(reader.wait(for: "committed 100\n", timeout: 30))
        var size = fileSize(dir)
        // At least 30 opens, and on until the writer's map has grown (a loaded machine writes slowly).
        let deadline = Date().addingTimeInterval(120)
        var opens = 0
        while opens < 30 || (size <= 1 << 20 && Date() < deadline && process.isRunning) {
            opens += 1
            let before = reported()
            let env = try Environment(path: dir.path, options: .readOnly)
            let db = try env.openDatabase("crash", flags: [])
            let count = try env.read { txn in try txn.count(db) }
            #expect(count >= before)
            #expect(fileSize(dir) >= size)
            size = max(size, fileSize(dir))
            usleep(20_000)
        }
        #expect(process.isRunning, "the writer died beside the read-only opens")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let last = reported()
        let env = try Environment(path: dir.path, options: .readOnly)
        let db = try env.openDatabase("crash", flags: [])
        #expect(try env.read { txn in try txn.count(db) } >= last)
        #expect(size > 1 << 20, "the writer's map never grew while the store was read")
    }

    @Test func aReadOnlyStoreCannotCreateDatabases() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        _ = try Environment(path: dir.path).openDatabase("present")
        let env = try Environment(path: dir.path, options: .readOnly)
        _ = try env.openDatabase("present")
        let error = #expect(throws: LMDBError.self) { try env.openDatabase("absent") }
        #expect(error?.code == LMDBError.notFound)
    }
}
