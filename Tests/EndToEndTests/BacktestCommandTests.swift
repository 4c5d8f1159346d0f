import Foundation
import TestSupport
import Testing

/// `onerec backtest` as an operator runs it on their own log.
@Suite struct BacktestCommandTests {
    @Test func aMalformedRowOrSettingIsRefusedWithWhatIsWrong() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let path = dir.path + "/log.csv"
        try "user,item,timestamp\na,b,1\na,c\n".write(toFile: path, atomically: true, encoding: .utf8)
        let r = try runToCompletion(builtExecutable("onerec"), ["backtest", "--interactions", path])
        #expect(r.status == 1 && r.stderr.contains("\(path):3: 2 fields, the header has 3"), "\(r.stderr)")
        let set = try runToCompletion(builtExecutable("onerec"), ["backtest", "--interactions", path, "--set", "trainer.preset=tiny"])
        #expect(set.status != 0 && set.stderr.contains("--set takes ONEREC_KEY=VALUE pairs"), "\(set.stderr)")
        let good = dir.path + "/good.csv"
        try "user,item,timestamp\na,b,1\na,c,2\n".write(toFile: good, atomically: true, encoding: .utf8)
        let vectors = dir.path + "/items.csv"
        try "item,a,b\nb,1,0\nc,1\n".write(toFile: vectors, atomically: true, encoding: .utf8)
        let v = try runToCompletion(builtExecutable("onerec"), ["backtest", "--interactions", good, "--item-vectors", vectors])
        #expect(v.status == 1 && v.stderr.contains("\(vectors):3: 2 fields, the header has 3"), "\(v.stderr)")
        let genres = try runToCompletion(builtExecutable("onerec"), ["backtest", "--interactions", good, "--item-vectors", "genres"])
        #expect(genres.status != 0 && genres.stderr.contains("--item-vectors genres needs --dataset"), "\(genres.stderr)")
        let share = try runToCompletion(builtExecutable("onerec"), ["backtest", "--interactions", good, "--new-items", "1.5"])
        #expect(share.status != 0 && share.stderr.contains("--new-items is a share in [0, 1)"), "\(share.stderr)")
    }

    /// 60 users over 60 items in three groups of 20 (each user watches one group), 30 rows each, a row
    /// every two hours.
    func plantedLog(in dir: TempDirectory) throws -> String {
        var rows = ["user,item,timestamp"]
        var state: UInt64 = 3
        for n in 0..<30 {
            for user in 0..<60 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                rows.append("u\(user),i\(20 * (user % 3) + Int(state >> 33) % 20),\(1_700_000_000 + n * 7_200 + user)")
            }
        }
        let path = dir.path + "/log.csv"
        try (rows.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let settings = "ONEREC_TRAINER_PRESET=tiny,ONEREC_TRAINER_MINIMUM_POSITIVES=300,ONEREC_TRAINER_MINIMUM_SESSIONS=20,"
        + "ONEREC_ONLINE_SAMPLE_SHARE=0.5,ONEREC_TRAINER_PUBLISH_EVERY_STEPS=20"

    /// A small log of three groups of items (each user watches one group) replayed into a daemon whose
    /// items carry no embeddings: it builds a behaviour codebook, trains, answers every held-out user, and
    /// its online test ran on the replayed positives.
    @Test func aLogIsReplayedIntoADaemonThatLearnsFromBehaviour() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let path = try plantedLog(in: dir)
        let r = try runToCompletion(builtExecutable("onerec"), [
            "backtest", "--interactions", path, "--minutes", "1", "--measure-every", "0.5", "--sample-users", "20", "--port", "18931",
            "--set", Self.settings, "--plot", dir.path + "/curves.svg",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("1740 events of 60 users and 60 items to replay; 60 users' last items held out"), "\(r.stdout)")
        #expect(r.stdout.contains("final:") && r.stdout.contains("daemon (served answers"), "\(r.stdout)")
        let online = try #require(r.stdout.split(separator: "\n").first { $0.contains("all windows: tested") }, "\(r.stdout)")
        #expect(!online.contains("tested 0 "), "\(online)")
        #expect(FileManager.default.fileExists(atPath: dir.path + "/curves.svg"))
        #expect(r.stdout.contains("the daemon's codebook: version 1, from behaviour, 60 items coded"), "\(r.stdout)")
    }

    /// The same log with a content vector per item (its group, one-hot): the items arrive as item
    /// events first, and the daemon's default codebook is built from their embeddings.
    @Test func itemVectorsReachTheDaemonAsEmbeddings() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let path = try plantedLog(in: dir)
        let vectors = dir.path + "/items.tsv"
        let rows = (0..<60).map { i in "i\(i)\t" + (0..<3).map { $0 == i / 20 ? "1" : "0" }.joined(separator: "\t") }
        try (["item_id\tg0\tg1\tg2"] + rows).joined(separator: "\n").write(toFile: vectors, atomically: true, encoding: .utf8)
        let r = try runToCompletion(builtExecutable("onerec"), [
            "backtest", "--interactions", path, "--item-vectors", vectors, "--minutes", "0.5", "--measure-every", "1", "--port", "18932",
            "--set", Self.settings,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("60 of 60 items carry content vectors of 3 dimensions"), "\(r.stdout)")
        #expect(r.stdout.contains("1800 events of 60 users"), "\(r.stdout)")
        #expect(r.stdout.contains("the daemon's codebook: version 1, from content, 60 items coded"), "\(r.stdout)")
    }
}
