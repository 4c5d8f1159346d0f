import Events
import Foundation
import Glibc
import LMDB
@testable import Store
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

    /// A store another onerec's layout is refused, by writers and readers alike, naming the version.
    @Test func aStoreOfAnotherLayoutIsRefused() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let path = dir.path + "/store"
        do {
            let store = try OpenStore.forWriting(path: path, mapSizeMiB: 1, holder: "test")
            let meta = try store.environment.openDatabase("meta")  // as a newer onerec would leave it
            try store.environment.write { txn in _ = try txn.put(meta, StoreLayout.versionKey, KeyBuilder.key(StoreLayout.version + 1)) }
        }
        let error = #expect(throws: StoreLayoutError.self) { try OpenStore.forWriting(path: path, mapSizeMiB: 1, holder: "test") }
        #expect(error?.description == "the store at \(path) has layout version \(StoreLayout.version + 1); this onerec reads version \(StoreLayout.version)")
        #expect(throws: StoreLayoutError.self) { try OpenStore.readOnly(path: path) }
    }

    /// A reader sees the parts a writer created and names the ones it has not.
    @Test func aReaderNamesThePartsNoWriterCreated() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let path = dir.path + "/store"
        do {
            let store = try OpenStore.forWriting(path: path, mapSizeMiB: 1, holder: "test")
            try store.history().apply([Event](), offsets: ["t": [0: 7]])
        }
        let reader = try OpenStore.readOnly(path: path)
        #expect(try reader.history().offsets(topic: "t", partitions: [0]) == [0: 7])
        let error = #expect(throws: StorePartMissing.self) { try reader.codebooks() }
        #expect(error?.description == "the store at \(path) has no codebooks yet")
    }
}
