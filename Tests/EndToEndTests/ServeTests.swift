import Foundation
import Glibc
import TestSupport
import Testing

@Suite struct ServeTests {
    @Test func servesHealthzAndStopsCleanlyOnSIGTERM() throws {
        let daemon = try OneRecProcess()
        #expect(daemon.waitUntilHealthy(), "no /healthz; stderr: \(daemon.process.isRunning ? "" : daemon.stderr)")
        let health = daemon.get("/healthz")
        #expect(health?.0 == 200)
        #expect(health?.1.contains(#""status":"ok""#) == true)
        #expect(daemon.get("/readyz")?.0 == 200)
        #expect(daemon.get("/v1/users/1/recommendations")?.0 == 200)
        let metrics = daemon.get("/metrics")?.1 ?? ""
        #expect(metrics.contains("hb_requests"))
        // onerec's own metrics in Prometheus's conventions (the README's list).
        #expect(metrics.contains("# TYPE onerec_recommendation_seconds histogram") && metrics.contains("onerec_recommendation_seconds_count 1"))
        #expect(metrics.contains("# TYPE onerec_recommendations_refused_total counter"))
        let stopped = daemon.stop(SIGTERM)
        #expect(stopped?.status == 0)
        #expect((stopped?.seconds ?? 99) < 5)
        #expect(daemon.stderr.contains("onerec stopped"))
    }

    @Test func tellsSystemdWhenReadyAndWhenStopping() throws {
        let systemd = FakeSystemd()
        let daemon = try OneRecProcess(environment: ["NOTIFY_SOCKET": systemd.path, "WATCHDOG_USEC": "400000"])
        #expect(daemon.waitUntilHealthy())
        var states: [String] = []
        for _ in 0..<20 {
            let state = systemd.receive(timeout: 1)
            if !state.isEmpty { states.append(state) }
            if states.contains(where: { $0.hasPrefix("READY=1") }) && states.filter({ $0 == "WATCHDOG=1" }).count >= 2 { break }
        }
        #expect(states.contains { $0.hasPrefix("READY=1") }, "\(states)")
        #expect(states.filter { $0 == "WATCHDOG=1" }.count >= 2, "\(states)")
        #expect(daemon.stop(SIGTERM)?.status == 0)
        var last = ""
        while case let state = systemd.receive(timeout: 1), !state.isEmpty { last = state }
        #expect(last == "STOPPING=1")
    }

    @Test func reachesARealBrokerWhenOneIsConfigured() throws {
        guard let broker = ProcessInfo.processInfo.environment["ONEREC_TEST_KAFKA"] else {
            Issue.record("ONEREC_TEST_KAFKA is not set: run the tests with scripts/test.sh")
            return
        }
        let daemon = try OneRecProcess(environment: ["ONEREC_KAFKA_BROKERS": broker])
        #expect(daemon.waitUntilHealthy())
        #expect(daemon.stop(SIGTERM)?.status == 0)
        #expect(daemon.stderr.contains("kafka reachable"))
    }

    @Test func versionPrintsTheBLASCore() throws {
        let result = try runToCompletion(builtExecutable("onerec"), ["version"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("blas: OpenBLAS core "))
        #expect(result.stdout.contains("librdkafka 2."))
    }
}

@Suite struct EmbeddedSimulatorTests {
    /// With no Kafka configured, the daemon's own simulated users generate events that land in the store,
    /// validated like any other; a restart adds to them without storing the catalog twice.
    @Test func withoutKafkaTheBuiltInWorldFeedsTheStore() throws {
        var stores: [(interactions: Int, items: Int)] = []
        let dir = TempDirectory()
        defer { dir.cleanup() }
        for _ in 0..<2 {
            let daemon = try OneRecProcess(environment: ["ONEREC_SIMULATOR_SESSIONS_PER_SECOND": "200", "ONEREC_SIMULATOR_ITEMS": "300",
                                                         "ONEREC_STORE_PATH": dir.path + "/store"])
            #expect(daemon.waitUntilHealthy())
            usleep(1_000_000)
            #expect(daemon.stop(SIGTERM)?.status == 0)
            #expect(daemon.stderr.contains("simulated traffic started"))
            let stats = try runToCompletion(builtExecutable("onerec"), ["store", "stats", "--path", dir.path + "/store"])
            let lines = stats.stdout.split(separator: "\n")
            stores.append((Int(lines[0].split(separator: " ")[1]) ?? -1, Int(lines[1].split(separator: " ")[1]) ?? -1))
        }
        #expect(stores[0].items == 300 && stores[1].items == 300)
        #expect(stores[0].interactions > 50)
        #expect(stores[1].interactions > stores[0].interactions)
    }

    /// SIGHUP (ExecReload) applies a changed log level and beam, names a changed thread count as needing
    /// a restart, refuses an invalid file as a whole, and the daemon serves on throughout.
    @Test func sighupReloadsTheConfiguration() throws {
        let config = { (level: String, beam: Int, threads: Int) in
            #"{"log": {"level": "\#(level)"}, "serving": {"beam": \#(beam)}, "compute": {"threads": \#(threads)}, "trainer": {"enabled": false}}"#
        }
        let daemon = try OneRecProcess(config: config("info", 16, 1))
        #expect(daemon.waitUntilHealthy())
        let path = daemon.directory.path + "/conf/onerec.json"
        try config("debug", 8, 2).write(toFile: path, atomically: true, encoding: .utf8)
        kill(daemon.process.processIdentifier, SIGHUP)
        usleep(500_000)
        try #"{"serving": {"beam": 0}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        kill(daemon.process.processIdentifier, SIGHUP)
        usleep(500_000)
        #expect(daemon.get("/healthz")?.0 == 200)
        #expect(daemon.stop()?.status == 0)
        let log = daemon.stderr
        #expect(log.contains(#"changed=["log.level", "serving.beam"]"#) && log.contains(#"needRestart=["compute.threads"]"#), "\(log.suffix(3000))")
        #expect(log.contains("debug onerec"))  // the new level is in force
        #expect(log.contains("configuration reload refused"))
    }
}
