import Events
import Foundation
import Glibc
import Kafka
import Logging
import TestSupport
import Testing

/// The daemon's bad day: its Kafka broker goes away. A broker of its own (the shared test broker keeps
/// serving the other tests) is stopped for `ONEREC_OUTAGE_SECONDS` (default 15; the issue's 60 with
/// `ONEREC_OUTAGE_SECONDS=60 scripts/test.sh --filter BrokerOutageTests`) while a client keeps asking for
/// recommendations, then started again on the same data.
@Suite struct BrokerOutageTests {
    static let token = "broker-outage-test-token-0123456789"

    @Test func servingContinuesReadinessReportsItAndIngestResumesWithNothingLost() async throws {
        guard ProcessInfo.processInfo.environment["ONEREC_TEST_KAFKA"] != nil else {
            Issue.record("ONEREC_TEST_KAFKA is not set: run the tests with scripts/test.sh")
            return
        }
        let outage = Double(ProcessInfo.processInfo.environment["ONEREC_OUTAGE_SECONDS"] ?? "15") ?? 15
        let broker = try PrivateBroker()
        defer { withExtendedLifetime(broker) {} }  // the broker runs until the test ends
        let address = broker.address

        var logger = Logger(label: "outage-test")
        logger.logLevel = .warning
        let kafka = KafkaConfig(brokers: [address])
        try KafkaAdmin(config: kafka, logger: logger).createTopic("outage.interactions", partitions: 2)
        try KafkaAdmin(config: kafka, logger: logger).createTopic("outage.items", partitions: 1)
        let start = Int64(Date().timeIntervalSince1970 * 1000) - 3_600_000
        func produce(_ range: Range<Int>) throws {
            let producer = try KafkaProducer(config: kafka, logger: logger)
            for i in range {
                let e = InteractionEvent(eventID: "outage-\(i)", userID: UInt64(i % 50), itemID: UInt64(i % 300), timestampMs: start + Int64(i),
                                         requestID: "r\(i / 5)", position: i % 5, watchTimeMs: 4_000, durationMs: 10_000)
                try producer.send(topic: "outage.interactions", key: Array("\(i % 50)".utf8), value: Array(Event.interaction(e).json().utf8))
            }
            try producer.flush()
        }
        try produce(0..<2_000)
        sleep(3)  // the test broker saves to disk asynchronously

        let daemon = try OneRecProcess(environment: [
            "ONEREC_KAFKA_BROKERS": address, "ONEREC_KAFKA_INTERACTIONS_TOPIC": "outage.interactions", "ONEREC_KAFKA_ITEMS_TOPIC": "outage.items",
            "ONEREC_KAFKA_GROUP_ID": "outage", "ONEREC_ADMIN_TOKEN": Self.token, "ONEREC_TRAINER_ENABLED": "false", "ONEREC_SIMULATOR_ENABLED": "false",
        ])
        #expect(daemon.waitUntilHealthy())
        func stored() -> Int? {
            guard let answer = daemon.get(path: "/v1/admin/status", headers: ["Authorization": "Bearer \(Self.token)"]), answer.0 == 200,
                  let json = try? JSONSerialization.jsonObject(with: Data(answer.1.utf8)) as? [String: Any] else { return nil }
            return json["interactions"] as? Int
        }
        func degraded() -> [String] {
            guard let answer = daemon.get("/readyz"), let json = try? JSONSerialization.jsonObject(with: Data(answer.1.utf8)) as? [String: Any] else { return ["no answer"] }
            return json["degraded"] as? [String] ?? []
        }
        func wait(_ what: String, seconds: Double, until done: () -> Bool) throws {
            let deadline = Date().addingTimeInterval(seconds)
            while !done() {
                try #require(Date() < deadline, "\(what) within \(seconds) s")
                usleep(200_000)
            }
        }
        try wait("the first 2,000 events stored", seconds: 60) { stored() == 2_000 }
        #expect(degraded().isEmpty)

        // A client asks for recommendations throughout (popular items: no model in this daemon).
        // On a thread of its own: the test's waits block, and a task could starve behind them.
        let requesting = RequestLoop { user in daemon.get("/v1/users/\(user % 50)/recommendations")?.0 == 200 }
        try broker.run("stop")
        let down = Date()
        try wait("readiness reporting the outage", seconds: 30) { degraded().contains { $0.hasPrefix("kafka") } }
        let detected = Date().timeIntervalSince(down)
        #expect(daemon.get("/readyz")?.0 == 200)  // still ready: serving works
        let remaining = outage - Date().timeIntervalSince(down)
        if remaining > 0 { usleep(UInt32(remaining * 1_000_000)) }
        try broker.run("resume")
        let up = Date()
        try produce(2_000..<3_000)
        try wait("ingest resuming by itself", seconds: 90) { stored() == 3_000 }
        let resumed = Date().timeIntervalSince(up)
        try wait("readiness clearing", seconds: 30) { degraded().isEmpty }
        let client = requesting.stop()
        print(String(format: "broker outage %.0f s: readiness degraded after %.1f s; %d recommendation requests answered, %d failed; all 3,000 events stored %.1f s after the broker returned",
                     up.timeIntervalSince(down), detected, client.ok, client.failed, resumed))
        #expect(client.ok > 0 && client.failed == 0, "\(client)")
        #expect(stored() == 3_000)
        #expect(daemon.stop()?.status == 0)
    }
}

/// Calls `request(n)` for n = 0, 1, ... every 20 ms on its own thread until stopped; counts the outcomes.
final class RequestLoop: @unchecked Sendable {
    // @unchecked: the counts are behind `lock`; `thread` is set once in init.
    private let lock = NSLock()
    private var ok = 0, failed = 0, running = true
    private let done = DispatchSemaphore(value: 0)

    init(_ request: @escaping @Sendable (Int) -> Bool) {
        let thread = Thread { [self] in
            var n = 0
            while lock.withLock({ running }) {
                let success = request(n)
                lock.withLock { if success { ok += 1 } else { failed += 1 } }
                n += 1
                usleep(20_000)
            }
            done.signal()
        }
        thread.start()
    }

    func stop() -> (ok: Int, failed: Int) {
        lock.withLock { running = false }
        done.wait()
        return lock.withLock { (ok, failed) }
    }
}
