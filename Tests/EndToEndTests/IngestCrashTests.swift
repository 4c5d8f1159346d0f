import Events
import Foundation
import Glibc
import Kafka
import Logging
import Simulator
import Store
import TestSupport
import Testing

@Suite struct IngestCrashTests {
    static let token = "crash-loop-test-token-0123456789"

    /// The crash loop: the daemon is killed with SIGKILL at random moments (0.5-6 s after each start)
    /// while it ingests a known set of events from the real broker, trains on them, checkpoints, publishes
    /// and runs alignment rounds an operator asks for; after a final clean run the store holds every event
    /// exactly once, the stored offsets cover exactly the topic, and a model version loads and serves.
    /// `ONEREC_CRASH_KILLS` (default 6) and `ONEREC_CRASH_EVENTS` (default 60,000) set the size.
    @Test func sigkillsAtRandomMomentsLoseNothingDuplicateNothingAndTheModelLoads() async throws {
        guard ProcessInfo.processInfo.environment["ONEREC_TEST_KAFKA"] != nil else {
            Issue.record("ONEREC_TEST_KAFKA is not set: run the tests with scripts/test.sh")
            return
        }
        // A broker of its own: a static member killed again and again keeps its group rebalancing, which
        // the test broker lets hold up other groups' joins.
        let privateBroker = try PrivateBroker()
        defer { withExtendedLifetime(privateBroker) {} }  // the broker runs until the test ends
        let broker = privateBroker.address
        let environmentOf = ProcessInfo.processInfo.environment
        let killsWanted = Int(environmentOf["ONEREC_CRASH_KILLS"] ?? "") ?? 6
        let total = Int(environmentOf["ONEREC_CRASH_EVENTS"] ?? "") ?? 60_000
        let suffix = UUID().uuidString.prefix(8)
        let (topic, itemsTopic) = ("crash-i-\(suffix)", "crash-items-\(suffix)")
        var logger = Logger(label: "crash-test")
        logger.logLevel = .warning
        let admin = try KafkaAdmin(config: KafkaConfig(brokers: [broker]), logger: logger)
        try admin.createTopic(topic, partitions: 4)
        try admin.createTopic(itemsTopic, partitions: 1)
        let producer = try KafkaProducer(config: KafkaConfig(brokers: [broker]), logger: logger)
        // A catalog with content embeddings, so the learner builds codes and trains.
        var wc = World.Config()
        (wc.items, wc.users) = (311, 997)
        for event in World(config: wc).catalog(idPrefix: "crash-item", timestampMs: 1_767_225_000_000) {
            try producer.send(topic: itemsTopic, key: Array("\(event.key)".utf8), value: Array(event.json().utf8))
        }
        for i in 0..<total {
            let user = UInt64(i % 997)
            let event = Event.interaction(InteractionEvent(eventID: "crash-\(i)", userID: user, itemID: UInt64((i * 7) % 311),
                                                           timestampMs: 1_767_225_600_000 + Int64(i), requestID: "r\(i / 5)",
                                                           position: i % 5, watchTimeMs: i % 3 == 0 ? 2500 : 1000, durationMs: 3000))
            try producer.send(topic: topic, key: Array("\(user)".utf8), value: Array(event.json().utf8))
        }
        try producer.flush(timeout: .seconds(120))

        let dir = TempDirectory()
        defer { dir.cleanup() }
        let environment = [
            "ONEREC_KAFKA_BROKERS": broker, "ONEREC_KAFKA_INTERACTIONS_TOPIC": topic, "ONEREC_KAFKA_ITEMS_TOPIC": itemsTopic,
            "ONEREC_KAFKA_GROUP_ID": "crash-\(suffix)", "ONEREC_KAFKA_INSTANCE_ID": "crash-daemon", "ONEREC_STORE_PATH": dir.path + "/store",
            "ONEREC_ADMIN_TOKEN": Self.token, "ONEREC_TRAINER_PRESET": "tiny", "ONEREC_TRAINER_PUBLISH_EVERY_STEPS": "20",
            "ONEREC_TRAINER_CHECKPOINT_EVERY_STEPS": "20", "ONEREC_ALIGNMENT_INTERVAL_SECONDS": "0",
            // The test broker answers a fetch with whole partitions: a million events exceed librdkafka's default 100 MB.
            "ONEREC_KAFKA_PROPERTIES": "receive.message.max.bytes=1000000000",
        ]
        func stored() throws -> Int {
            guard FileManager.default.fileExists(atPath: dir.path + "/store/data.mdb") else { return 0 }
            return try OpenStore.readOnly(path: dir.path + "/store").history().counts().interactions
        }
        var rng = SystemRandomNumberGenerator()
        var counts: [Int] = []
        for run in 0..<killsWanted {
            let daemon = try OneRecProcess(environment: environment)
            if run % 3 == 2 {  // now and then an operator asks for an alignment round (it may or may not get far)
                _ = daemon.waitUntilHealthy(timeout: 10)
                _ = daemon.get(path: "/v1/admin/align", headers: ["Authorization": "Bearer \(Self.token)"], method: "POST")
            }
            usleep(UInt32.random(in: 500_000...6_000_000, using: &rng))
            #expect(daemon.process.isRunning, "run \(run) ended by itself: \(daemon.stderr.suffix(2000))")
            _ = daemon.stop(SIGKILL)
            counts.append(try stored())
        }
        // A last run finishes the job, serves a model version, and stops cleanly.
        let daemon = try OneRecProcess(environment: environment)
        #expect(daemon.waitUntilHealthy())
        var serving: Int?
        let deadline = Date().addingTimeInterval(180)
        while (try stored() < total || serving == nil) && Date() < deadline {
            usleep(200_000)
            if let answer = daemon.get(path: "/v1/admin/status", headers: ["Authorization": "Bearer \(Self.token)"]),
               let json = try? JSONSerialization.jsonObject(with: Data(answer.1.utf8)) as? [String: Any] {
                serving = (json["serving"] as? [String: Any])?["version"] as? Int
            }
        }
        let recommended = daemon.get("/v1/users/3/recommendations")
        #expect(daemon.stop(SIGTERM)?.status == 0)
        let store = try OpenStore.readOnly(path: dir.path + "/store").history()
        let offsets = try store.offsets(topic: topic, partitions: [0, 1, 2, 3])
        print("crash loop: \(killsWanted) SIGKILLs; stored after each \(counts); finally \(try stored()) of \(total), offsets \(offsets.values.reduce(0, +)), serving version \(serving.map(String.init) ?? "none")")
        #expect(try stored() == total, "counts after each kill: \(counts)")
        #expect(offsets.values.reduce(0, +) == Int64(total))
        #expect(serving != nil)
        #expect(recommended?.0 == 200 && recommended?.1.contains(#""source":"generator""#) == true, "\(recommended?.1 ?? "")")
    }
}
