import Events
import Foundation
import Glibc
import LMDB
import Store
import TestSupport
import Testing

/// One writing process per store: the writer lock refuses a second writer, naming the first, and is
/// free again once the first is gone; read-only opens need no lock.
@Suite struct OpenStoreTests {
    @Test func aSecondWriterIsRefusedNamingTheFirst() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let path = dir.path + "/store"
        do {
            let first = try OpenStore.forWriting(path: path, mapSizeMiB: 1, holder: "onerec serve")
            let error = #expect(throws: StoreInUse.self) { try OpenStore.forWriting(path: path, mapSizeMiB: 1, holder: "onerec codebook build") }
            #expect(error?.path == path)
            #expect(error?.holder?.hasPrefix("pid \(getpid()), onerec serve, since 20") == true, "\(String(describing: error?.holder))")
            #expect(error?.description.contains("being written by another process (pid \(getpid()), onerec serve") == true)
            let history = try HistoryStore(environment: first.environment)
            try history.apply([Event](), offsets: ["t": [0: 5]])
        }
        // The first writer is gone: the lock is free, and what it wrote is there.
        let second = try OpenStore.forWriting(path: path, mapSizeMiB: 1, holder: "onerec codebook build")
        #expect(try HistoryStore(environment: second.environment).offsets(topic: "t", partitions: [0]) == [0: 5])
    }

    @Test func aStorePathThatCannotHoldALockIsAnEnvironmentError() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        _ = FileManager.default.createFile(atPath: dir.path + "/file", contents: Data("x".utf8))
        let error = #expect(throws: LMDBError.self) { try OpenStore.forWriting(path: dir.path + "/file", mapSizeMiB: 1, holder: "test") }
        #expect(error?.code == ENOTDIR, "\(String(describing: error))")
    }
}
