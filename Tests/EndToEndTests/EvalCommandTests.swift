import Foundation
import Glibc
import TestSupport
import Testing

/// `onerec eval file` and `onerec eval store` as an operator runs them.
@Suite struct EvalCommandTests {
    @Test func aMalformedRowIsRefusedWithItsLine() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let path = dir.path + "/log.csv"
        try "user,item,timestamp\na,b,1\na,c,later\n".write(toFile: path, atomically: true, encoding: .utf8)
        let r = try runToCompletion(builtExecutable("onerec"), ["eval", "file", "--interactions", path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(path):3: timestamp 'later' is not a number"), "\(r.stderr)")
        let missing = try runToCompletion(builtExecutable("onerec"), ["eval", "file", "--interactions", dir.path + "/none.csv"])
        #expect(missing.status == 1 && missing.stderr.contains("cannot read \(dir.path)/none.csv"), "\(missing.stderr)")
    }

    /// The store of a running daemon (fed by its simulator), evaluated beside it, read-only.
    @Test func aRunningDaemonsStoreIsEvaluatedBesideIt() throws {
        let daemon = try OneRecProcess(environment: ["ONEREC_SIMULATOR_SESSIONS_PER_SECOND": "400", "ONEREC_SIMULATOR_ITEMS": "200",
                                                     "ONEREC_SIMULATOR_USERS": "150", "ONEREC_TRAINER_PRESET": "tiny"])
        #expect(daemon.waitUntilHealthy())
        let store = daemon.directory.path + "/store"
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let stats = try runToCompletion(builtExecutable("onerec"), ["store", "stats", "--path", store])
            if let line = stats.stdout.split(separator: "\n").first, let n = Int(line.split(separator: " ").last ?? ""), n >= 4_000 { break }
            usleep(500_000)
        }
        let r = try runToCompletion(builtExecutable("onerec"), [
            "eval", "store", "--path", store, "--preset", "tiny", "--architecture", "lazy", "--item-ids", "3", "--training", "sequences", "--steps", "20", "--batch", "8", "--validate-every", "10",
            "--sasrec-epochs", "1", "--history", "10", "--users", "40", "--validation-only",
        ])
        #expect(r.status == 0, "\(r.stderr.suffix(2000))")
        #expect(r.stdout.contains("\(store), leave-one-out, full ranking over unseen items, 40 users, validation items"), "\(r.stdout.suffix(2000))")
        #expect(!r.stdout.contains("test items"))
        #expect(r.stdout.contains("  step 10  validation HR@10 ") && r.stdout.contains("generator: step "), "\(r.stdout.suffix(2000))")
        #expect(daemon.process.isRunning)
        #expect(daemon.stop()?.status == 0)
    }
}
