import Foundation
import TestSupport
import Testing

@Suite struct CodebookCommandTests {
    @Test func buildsFromAFileStoresVersionsAndReports() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        // 200 items in 4 dimensions around 4 corners, plus two bad lines.
        var lines = (0..<200).map { i in
            "\(i + 1) \((i % 4 < 2) ? 5 : -5).\(i % 7) \((i % 2 == 0) ? 5 : -5).\(i % 5) 0.\(i % 3) 1.\(i % 9)"
        }
        lines.insert("900 1 2 3", at: 10)
        lines.insert("901 nan 1 1 1", at: 20)
        try lines.joined(separator: "\n").write(toFile: dir.path + "/vectors.txt", atomically: true, encoding: .utf8)
        let onerec = builtExecutable("onerec")
        let store = dir.path + "/store"
        let build = try runToCompletion(onerec, ["codebook", "build", "--vectors", dir.path + "/vectors.txt", "--codes", "8", "--store", store])
        #expect(build.status == 0, "\(build.stderr)")
        #expect(build.stdout.contains("items 200, levels 3, codes per level 8"))
        #expect(build.stdout.contains("saved as codebook version 1"))
        #expect(build.stderr.contains("rejected item 900: wrong-dimension") && build.stderr.contains("rejected item 901: not-finite"))
        _ = try runToCompletion(onerec, ["codebook", "build", "--vectors", dir.path + "/vectors.txt", "--codes", "8", "--store", store, "--mode", "plain"])
        let report = try runToCompletion(onerec, ["codebook", "report", "--store", store])
        #expect(report.status == 0)
        #expect(report.stdout.contains("codebook version 2 of 1, 2 (current: 2)"))
        #expect(report.stdout.contains("plain k-means"))
        #expect(report.stdout.contains("now: 200 items coded"))
        let missing = try runToCompletion(onerec, ["codebook", "report", "--store", dir.path + "/nothing"])
        #expect(missing.status == 1 && missing.stderr.contains("no store at"))
    }
}
