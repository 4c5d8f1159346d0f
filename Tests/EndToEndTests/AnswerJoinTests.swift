import Events
import Foundation
import Glibc
import TestSupport
import Testing

/// The real binary: answers carry request ids, the events that echo them are joined to the answer's
/// version, and the answers outlive a restart, so late events still count.
@Suite struct AnswerJoinTests {
    static let token = "answer-join-test-token-0123456789"

    func event(_ id: String, user: UInt64, item: UInt64, request: String, watchMs: Int64) -> String {
        Event.interaction(InteractionEvent(eventID: id, userID: user, itemID: item, timestampMs: Int64(Date().timeIntervalSince1970 * 1000),
                                           requestID: request, position: 0, watchTimeMs: watchMs, durationMs: 10_000)).json()
    }

    @Test func eventsJoinTheirAnswerAcrossARestart() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let environment = ["ONEREC_STORE_PATH": dir.path + "/store", "ONEREC_ADMIN_TOKEN": Self.token,
                           "ONEREC_SIMULATOR_ENABLED": "false", "ONEREC_TRAINER_ENABLED": "false"]
        func requestID(_ daemon: OneRecProcess, user: UInt64) throws -> String {
            let answer = try #require(daemon.get("/v1/users/\(user)/recommendations"))
            let json = try #require(try JSONSerialization.jsonObject(with: Data(answer.1.utf8)) as? [String: Any])
            return try #require(json["requestID"] as? String)
        }
        func post(_ daemon: OneRecProcess, _ lines: [String]) -> String {
            httpGet(port: daemon.port, path: "/v1/events", method: "POST", body: lines.joined(separator: "\n"))?.1 ?? ""
        }

        let first = try OneRecProcess(environment: environment)
        try #require(first.waitUntilHealthy(), "\(first.stderr)")
        let (early, late) = (try requestID(first, user: 7), try requestID(first, user: 8))
        #expect(post(first, [event("a1", user: 7, item: 1, request: early, watchMs: 4_000)]).contains(#""stored":1"#))
        // The second answer is written when the daemon stops (its flush), not yet joined to anything.
        #expect(first.stop(SIGTERM)?.status == 0)

        let second = try OneRecProcess(environment: environment)
        try #require(second.waitUntilHealthy(), "\(second.stderr)")
        let posted = post(second, [
            event("a2", user: 7, item: 2, request: early, watchMs: 2_000), event("b1", user: 8, item: 3, request: late, watchMs: 5_000),
            event("c1", user: 9, item: 4, request: "not-an-answer", watchMs: 1_000), event("c2", user: 9, item: 5, request: early, watchMs: 1_000),
        ])
        #expect(posted.contains(#""stored":4"#), "\(posted)")
        let outcomes = try #require(httpGet(port: second.port, path: "/v1/admin/outcomes", headers: ["Authorization": "Bearer \(Self.token)"]))
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(outcomes.1.utf8)) as? [[String: Any]], "\(outcomes)")
        // No model in either run: both answers were popular items (version null).
        #expect(rows.count == 1)
        #expect(rows.first?["requests"] as? Int == 2 && rows.first?["sessions"] as? Int == 2 && rows.first?["events"] as? Int == 3)
        #expect(abs((rows.first?["watchPerSession"] as? Double ?? 0) - 5.5) < 1e-9)
        let metrics = second.get("/metrics")?.1 ?? ""
        #expect(metrics.contains(#"onerec_answer_events_total{result="matched"} 2"#), "\(metrics)")
        #expect(metrics.contains(#"onerec_answer_events_total{result="unmatched"} 1"#) && metrics.contains(#"onerec_answer_events_total{result="foreign"} 1"#))
        // The per-version gauges come every 5 s.
        var gauges = ""
        for _ in 0..<70 where !gauges.contains(#"onerec_version_sessions{version="popular"} 2"#) {
            usleep(100_000)
            gauges = second.get("/metrics")?.1 ?? ""
        }
        #expect(gauges.contains(#"onerec_version_sessions{version="popular"} 2"#) && gauges.contains(#"onerec_version_watch_seconds_per_session{version="popular"} 5.5"#),
                "\(gauges)")
        #expect(second.stop(SIGTERM)?.status == 0)
    }
}

/// The daemon's own closed loop: the embedded simulator's users answer what the daemon serves, echoing
/// its request ids, so a canary an operator starts is decided by those users' sessions, with no hand in it.
@Suite struct CanaryClosedLoopTests {
    static let token = "canary-loop-test-token-0123456789"

    @Test func aCanaryIsDecidedByTheSimulatedUsersSessions() throws {
        let daemon = try OneRecProcess(environment: [
            "ONEREC_ADMIN_TOKEN": Self.token, "ONEREC_TRAINER_PRESET": "tiny", "ONEREC_TRAINER_PUBLISH_EVERY_STEPS": "20",
            "ONEREC_SIMULATOR_USERS": "300", "ONEREC_SIMULATOR_ITEMS": "200", "ONEREC_SIMULATOR_SESSIONS_PER_SECOND": "200",
            "ONEREC_CANARY_SESSIONS": "40", "ONEREC_CANARY_LOOK_SECONDS": "0.5", "ONEREC_COMPUTE_THREADS": "1",
        ])
        try #require(daemon.waitUntilHealthy(), "\(daemon.stderr)")
        let admin = ["Authorization": "Bearer \(Self.token)"]
        func json(_ method: String, _ path: String) -> [String: Any] {
            let answer = httpGet(port: daemon.port, path: path, method: method, headers: admin)?.1 ?? ""
            return (try? JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any]) ?? [:]
        }
        // Two published versions: the first is the candidate, the newest serves the rest.
        var promoted: [Int] = []
        for _ in 0..<600 where promoted.count < 2 {
            usleep(100_000)
            promoted = json("GET", "/v1/admin/status")["promoted"] as? [Int] ?? []
        }
        try #require(promoted.count >= 2, "no second version: \(daemon.stop().map { _ in daemon.stderr.suffix(3000) } ?? "")")
        let started = json("POST", "/v1/admin/canary/\(promoted[0])?share=0.5")
        #expect(started["state"] as? String == "running", "\(started)")
        var recent: [[String: Any]] = []
        for _ in 0..<600 {
            usleep(100_000)
            recent = json("GET", "/v1/admin/canary")["recent"] as? [[String: Any]] ?? []
            if let last = recent.last, last["state"] as? String != "running" { break }
        }
        let decided = try #require(recent.last)
        #expect(["promoted", "rolled-back"].contains(decided["state"] as? String ?? ""), "\(decided)")
        let evidence = decided["evidence"] as? [String: Any] ?? [:]
        let arms = [evidence["control"], evidence["candidate"]].map { ($0 as? [String: Any])?["sessions"] as? Int ?? 0 }
        // Decided at the horizon: 40 sessions in each arm (the early look needs 200).
        #expect(arms.allSatisfy { $0 >= 40 }, "\(decided)")
        print("canary decided: \(decided["reason"] ?? "")")
        let metrics = daemon.get("/metrics")?.1 ?? ""
        #expect(metrics.contains("onerec_canary_decisions_total{state=\"\(decided["state"] as? String ?? "")\"} 1"), "\(metrics.suffix(2000))")
        #expect(daemon.stop()?.status == 0)
    }
}
