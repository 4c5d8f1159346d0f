import Events
import Foundation
import Kafka
import Logging
import Simulator
import TestSupport
import Testing

/// The daemon as a feed platform runs it: the simulator's events arrive over the real broker, the daemon
/// ingests them into LMDB, trains the generator and the reward model, and serves recommendations over
/// HTTP; an operator asks for an alignment round with `onerec align` while a client keeps requesting.
@Suite(.serialized) struct ClosedLoopTests {
    static let token = "closed-loop-test-token-0123456789"

    @Test func ingestsTrainsServesBetterThanPopularityAndAlignsWithoutAFailedRequest() async throws {
        guard let broker = ProcessInfo.processInfo.environment["ONEREC_TEST_KAFKA"] else {
            Issue.record("ONEREC_TEST_KAFKA is not set: run the tests with scripts/test.sh")
            return
        }
        let onerec = builtExecutable("onerec")
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let (users, items, seed) = (300, 400, UInt64(5))
        let worldOptions = ["--users", "\(users)", "--items", "\(items)", "--requests", "10", "--seed", "\(seed)"]

        // The logged sessions, to the broker and (identically) to a file for the popularity baseline.
        let suffix = UUID().uuidString.prefix(8)
        let topics = ("loop-interactions-\(suffix)", "loop-items-\(suffix)")
        var logger = Logger(label: "loop-test")
        logger.logLevel = .warning
        let admin = try KafkaAdmin(config: KafkaConfig(brokers: [broker]), logger: logger)
        try admin.createTopic(topics.0, partitions: 2)
        try admin.createTopic(topics.1, partitions: 1)
        let produced = try runToCompletion(onerec, ["simulate", "log", "--brokers", broker, "--topic", topics.0, "--items-topic", topics.1] + worldOptions)
        try #require(produced.status == 0, "\(produced.stderr)")
        _ = try runToCompletion(onerec, ["simulate", "log", "--out", dir.path + "/log.jsonl"] + worldOptions)

        let daemon = try OneRecProcess(environment: [
            "ONEREC_KAFKA_BROKERS": broker, "ONEREC_KAFKA_INTERACTIONS_TOPIC": topics.0, "ONEREC_KAFKA_ITEMS_TOPIC": topics.1,
            "ONEREC_KAFKA_GROUP_ID": "loop-\(suffix)", "ONEREC_ADMIN_TOKEN": Self.token, "ONEREC_TRAINER_PRESET": "tiny",
            "ONEREC_TRAINER_MINIMUM_SESSIONS": "100", "ONEREC_TRAINER_PUBLISH_EVERY_STEPS": "500", "ONEREC_COMPUTE_THREADS": "1",
        ])
        // The daemon's log, for failure messages (stops it first: its stderr ends when it exits).
        let log = { () -> String in
            _ = daemon.stop()
            return String(daemon.stderr.suffix(4000))
        }
        try #require(daemon.waitUntilHealthy(), "the daemon did not start: \(log())")
        let cli = { (arguments: [String]) in
            try runToCompletion(onerec, arguments + ["--url", "http://127.0.0.1:\(daemon.port)", "--token", Self.token])
        }

        // Training until 2000 steps are behind the served version.
        let deadline = Date().addingTimeInterval(240)
        var served = 0
        while Date() < deadline {
            let status = try cli(["status", "--json"])
            if let json = try? JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any],
               let serving = json["serving"] as? [String: Any], let steps = serving["steps"] as? Int {
                served = steps
                if steps >= 2000 { break }
            }
            try await Task.sleep(for: .seconds(1))
        }
        try #require(served >= 2000, "no trained version after 240 s: \(log())")

        // True utility of what the daemon serves vs. what the popularity policy (trained on the same log) shows.
        var wc = World.Config()
        (wc.users, wc.items, wc.seed) = (users, items, seed)
        let world = World(config: wc)
        var popularity = PopularityPolicy(items: items, exploration: 0, seed: 1)
        var seen = [Set<UInt64>](repeating: [], count: users)
        let decoder = EventDecoder()
        for line in try String(contentsOfFile: dir.path + "/log.jsonl", encoding: .utf8).split(separator: "\n") {
            if case .success(.interaction(let e)) = decoder.decode(Array(line.utf8), now: .distantFuture) {
                popularity.observe([e])
                seen[Int(e.userID)].insert(e.itemID)
            }
        }
        var daemonWatch = 0.0, popularWatch = 0.0
        for user in stride(from: 0, to: users, by: 2) {
            let answer = try #require(daemon.get("/v1/users/\(user)/recommendations?count=5"))
            try #require(answer.0 == 200, "\(answer.1)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(answer.1.utf8)) as? [String: Any])
            let recommended = (json["items"] as? [Int] ?? []).map(UInt64.init)
            #expect(recommended.count == 5 && Set(recommended).isDisjoint(with: seen[user]))
            daemonWatch += world.utility(user: user, session: recommended).watchTimeMs / 1000
            popularWatch += world.utility(user: user, session: popularity.propose(user: user, count: 5, seen: seen[user], world: world)).watchTimeMs / 1000
        }
        let n = Double(users / 2)
        print(String(format: "true expected watch time per session: daemon %.1f s, popularity %.1f s", daemonWatch / n, popularWatch / n))
        #expect(daemonWatch > popularWatch)

        // An operator's round while a client requests: up to three rounds until one is promoted. The client
        // makes at least 20 requests, however quickly the rounds end (the lazy generator's take seconds).
        let requesting = Task.detached { () -> (ok: Int, failed: [String]) in
            var ok = 0, failed: [String] = []
            var user = 0
            while !Task.isCancelled || ok + failed.count < 20 {
                if daemon.get("/v1/users/\(user)/recommendations")?.0 == 200 { ok += 1 } else { failed.append("user \(user)") }
                user = (user + 7) % users
            }
            return (ok, failed)
        }
        var promoted = false
        for _ in 0..<3 where !promoted {
            let round = try cli(["align"])
            #expect(round.status == 0, "\(round.stderr)")
            promoted = round.stdout.contains("promoted")
        }
        requesting.cancel()
        let client = await requesting.value
        #expect(promoted)
        #expect(client.ok > 0 && client.failed.isEmpty, "failed requests: \(client.failed.prefix(5))")
        // The round's pairs are kept for audit: user, chosen and rejected sessions with their rewards.
        let pairs = try cli(["align", "pairs", "1"])
        #expect(pairs.status == 0 && pairs.stdout.contains("user ") && pairs.stdout.contains("chosen ["), "\(pairs.stdout)\(pairs.stderr)")
        let status = try cli(["status"])
        #expect(status.stdout.contains("aligned") || status.stdout.contains("promoted"), "\(status.stdout)")
        // The learner's own test-then-train measure, in `status` and on the status page.
        #expect(status.stdout.contains("online      : served HR@10 "), "\(status.stdout)")
        let page = try #require(daemon.get("/")).1
        #expect(page.contains(#"<p id="online">online test-then-train: served HR@10"#) && page.contains("online HR@10 (test-then-train)"), "\(page.prefix(3000))")

        // An operator canaries the version promoted before the serving one beside it, looks at it, and stops it.
        // (Not the oldest listed: the list keeps the newest promotions, and the trainer keeps promoting, so the
        // oldest can lose its file between the status and the canary.)
        let promotedLine = try #require(status.stdout.split(separator: "\n").first { $0.hasPrefix("promoted    : ") })
        let old = try #require(promotedLine.dropFirst("promoted    : ".count).split(separator: " ").dropLast().last.map(String.init))
        let started = try cli(["canary", "start", old, "--share", "0.5"])
        #expect(started.status == 0 && started.stdout.contains("canary 1: version \(old) serves 50.0% of users"), "\(started.stdout)\(started.stderr)")
        for user in 0..<20 { _ = daemon.get("/v1/users/\(user)/recommendations") }
        let watching = try cli(["canary", "status"])
        #expect(watching.stdout.contains("canary 1: candidate \(old)") && watching.stdout.contains("control:"), "\(watching.stdout)")
        #expect(try cli(["status"]).stdout.contains("canary      : #1: version \(old) serves 50.0% of users"))
        let stopped = try cli(["canary", "stop"])
        #expect(stopped.status == 0 && stopped.stdout.contains("canary 1 stopped"), "\(stopped.stdout)\(stopped.stderr)")
        #expect(try cli(["canary", "stop"]).status != 0)
        #expect(try cli(["canary", "status"]).stdout.contains("canary 1 (version \(old)): stopped by an operator"))
        #expect(daemon.stop()?.status == 0)
    }

    /// `onerec simulate loop` against a daemon over HTTP: the catalog and every response go in through
    /// POST /v1/events, each round reports the true utility of what was shown.
    @Test func simulateLoopFeedsADaemonOverHTTP() throws {
        let daemon = try OneRecProcess(environment: ["ONEREC_SIMULATOR_ENABLED": "false", "ONEREC_TRAINER_PRESET": "tiny",
                                                     "ONEREC_ADMIN_TOKEN": Self.token])
        #expect(daemon.waitUntilHealthy())
        let loop = try runToCompletion(builtExecutable("onerec"), ["simulate", "loop", "--url", "http://127.0.0.1:\(daemon.port)",
                                                                  "--token", Self.token, "--users", "80", "--items", "150", "--rounds", "3", "--pause", "0"])
        #expect(loop.status == 0, "\(loop.stderr)")
        let rounds = loop.stdout.split(separator: "\n").filter { $0.hasPrefix("round") }
        #expect(rounds.count == 3 && rounds.allSatisfy { $0.contains("true expected watch time") }, "\(loop.stdout)")
        // The learner reads the store on its own thread: wait (up to 30 s) until it has caught up.
        var json: [String: Any] = [:]
        for _ in 0..<300 {
            let status = try runToCompletion(builtExecutable("onerec"), ["status", "--json", "--url", "http://127.0.0.1:\(daemon.port)", "--token", Self.token])
            json = (try? JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]) ?? [:]
            if ((json["learner"] as? [String: Any])?["catalogItems"] as? Int) == 150 { break }
            usleep(100_000)
        }
        #expect((json["interactions"] as? Int ?? 0) > 80)
        #expect(((json["learner"] as? [String: Any])?["catalogItems"] as? Int) == 150)
        #expect(daemon.stop()?.status == 0)
    }
}
