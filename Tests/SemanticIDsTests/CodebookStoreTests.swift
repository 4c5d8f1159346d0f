import LMDB
import SemanticIDs
import TestSupport
import Testing

@Suite struct CodebookStoreTests {
    @Test func versionsRoundTripAndOnlineAdditionsPersist() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let v = CodebookTests.vectors(300)
        let (book, _) = try CodebookTests.build(v)
        do {
            let store = try CodebookStore(environment: Environment(path: dir.path))
            #expect(try store.load() == nil)
            try store.save(book)
            #expect(throws: CodebookError.self) { try store.save(book) }  // a version is never overwritten
            let code = try book.add(item: 777, vector: Array(v.row(3)))
            try store.saveAssignment(version: book.version, item: 777, code: code)
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
        #expect(try store.code(version: 1, item: someItem) == someCode)
        #expect(try store.item(version: 1, code: someCode) == someItem)
        #expect(try store.item(version: 2, code: someCode) == nil)
        #expect(loaded.trie.allowed(after: []) == book.trie.allowed(after: []))
        // A later item is coded by the loaded book exactly as by the original.
        let fresh = Array(v.row(10))
        #expect(try loaded.add(item: 778, vector: fresh) == book.add(item: 778, vector: fresh))
    }
}
