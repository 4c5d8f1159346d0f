import LMDB
import SemanticIDs
@testable import Store
import TestSupport
import Testing

@Suite struct CodebookStoreTests {
    /// `n` synthetic items (ids 0..<n) and a balanced codebook of them, version 1.
    static func built(_ n: Int) throws -> (ItemVectors, Codebook) {
        let v = SyntheticVectors.make(count: n, dimension: 12, seed: 1)
        var config = ResidualQuantizer.Config()
        config.codesPerLevel = 10
        let (q, training) = ResidualQuantizer.train(v, config: config)
        return (v, try Codebook(version: 1, vectors: v, quantizer: q, training: training))
    }

    @Test func versionsRoundTripAndOnlineAdditionsPersist() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let (v, book) = try Self.built(300)
        do {
            let store = try CodebookStore(environment: Environment(path: dir.path))
            #expect(try store.load() == nil)
            try store.save(book)
            #expect(throws: CodebookError.self) { try store.save(book) }  // a version is never overwritten
            try book.add(item: 777, vector: Array(v.row(3)))
            try store.saveAssignment(book, item: 777)
        }
        let store = try CodebookStore(environment: Environment(path: dir.path))
        #expect(try store.versions() == [1] && store.currentVersion() == 1 && store.nextVersion() == 2)
        let loaded = try #require(try store.load())
        #expect(loaded.count == 301)
        #expect(loaded.assignments.map(\.item) == book.assignments.map(\.item))
        #expect(loaded.assignments.map(\.code) == book.assignments.map(\.code))
        #expect(loaded.quantizer.centroids == book.quantizer.centroids)
        #expect(loaded.item(at: try #require(book.code(of: 777))) == 777)
        let someItem = v.ids[42]
        let someCode = try #require(book.code(of: someItem))
        #expect(try store.code(version: 1, item: someItem, levels: book.levels) == someCode)
        // Coding order survives: the build's items by id, then the later one.
        #expect(loaded.itemsInOrder == book.itemsInOrder && loaded.index(of: 777) == 300)
        #expect(loaded.index(of: book.assignments[0].item) == 0)
        #expect(try store.item(version: 1, code: someCode) == someItem)
        #expect(try store.item(version: 2, code: someCode) == nil)
        #expect(loaded.trie.allowed(after: []) == book.trie.allowed(after: []))
        // A later item is coded by the loaded book exactly as by the original.
        let fresh = Array(v.row(10))
        #expect(try loaded.add(item: 778, vector: fresh) == book.add(item: 778, vector: fresh))
    }

    /// Codes written before coding order was stored (codes alone) load with those items first, by id,
    /// and the items stored with a place after them.
    @Test func recordsWithoutAnOrderComeFirstByID() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let (v, book) = try Self.built(40)
        let env = try Environment(path: dir.path)
        let store = try CodebookStore(environment: env)
        try store.save(book)
        try book.add(item: 5_000, vector: Array(v.row(1)))
        try store.saveAssignment(book, item: 5_000)
        // Rewrite the build's items as an older daemon stored them: their codes without a place.
        let itemCode = try env.openDatabase("codebook.item-code")
        try env.write { txn in
            for (item, code) in book.assignments where item != 5_000 {
                var value = KeyBuilder()
                for c in code { value.append(c) }
                try txn.put(itemCode, KeyBuilder.key(UInt32(1)) + KeyBuilder.key(item), value.bytes)
            }
        }
        let loaded = try #require(try store.load())
        #expect(loaded.itemsInOrder == book.assignments.map(\.item).filter { $0 != 5_000 } + [5_000])
        #expect(loaded.index(of: 5_000) == Int32(book.count - 1))
    }
}
