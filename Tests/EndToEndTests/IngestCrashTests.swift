import Events
import Foundation
import Glibc
import Kafka
import LMDB
import Logging
import Store
import TestSupport
import Testing

@Suite struct IngestCrashTests {
    /// The daemon is killed with SIGKILL several times while it ingests a known set of events from the
    /// real broker; after a final clean run the store holds every event exactly once.
    @Test func sigkillDuringIngestLosesNothingAndDuplicatesNothing() async throws {
        guard let broker = ProcessInfo.processInfo.environment["ONEREC_TEST_KAFKA"] else {
            Issue.record("ONEREC_TEST_KAFKA is not set: run the tests with scripts/test.sh")
            return
        }
        let suffix = UUID().uuidString.prefix(8)
        let (topic, itemsTopic) = ("crash-i-\(suffix)", "crash-items-\(suffix)")
        var logger = Logger(label: "crash-test")
        logger.logLevel = .warning
        let admin = try KafkaAdmin(config: KafkaConfig(brokers: [broker]), logger: logger)
        try admin.createTopic(topic, partitions: 4)
        try admin.createTopic(itemsTopic, partitions: 1)
        let producer = try KafkaProducer(config: KafkaConfig(brokers: [broker]), logger: logger)
        let total = 60_000
        for i in 0..<total {
            let user = UInt64(i % 997)
            let event = Event.interaction(InteractionEvent(eventID: "crash-\(i)", userID: user, itemID: UInt64(i % 311),
                                                           timestampMs: 1_767_225_600_000 + Int64(i), requestID: "r\(i / 5)",
                                                           position: i % 5, watchTimeMs: 1000, durationMs: 3000))
            try producer.send(topic: topic, key: Array("\(user)".utf8), value: Array(event.json().utf8))
        }
        try producer.flush(timeout: .seconds(60))

        let dir = TempDirectory()
        defer { dir.cleanup() }
        let environment = [
            "ONEREC_KAFKA_BROKERS": broker, "ONEREC_KAFKA_INTERACTIONS_TOPIC": topic, "ONEREC_KAFKA_ITEMS_TOPIC": itemsTopic,
            "ONEREC_KAFKA_GROUP_ID": "crash-\(suffix)", "ONEREC_KAFKA_INSTANCE_ID": "crash-daemon", "ONEREC_STORE_PATH": dir.path + "/store",
        ]
        func stored() throws -> Int {
            guard FileManager.default.fileExists(atPath: dir.path + "/store/data.mdb") else { return 0 }
            return try HistoryStore(environment: Environment(path: dir.path + "/store")).counts().interactions
        }
        var rng = SystemRandomNumberGenerator()
        var kills = 0
        var counts: [Int] = []
        for _ in 0..<4 {
            let daemon = try OneRecProcess(environment: environment)
            // Let it get going, then kill it at a random moment.
            let deadline = Date().addingTimeInterval(20)
            while try stored() <= (counts.last ?? 0) && Date() < deadline && daemon.process.isRunning { usleep(20_000) }
            usleep(UInt32.random(in: 20_000...200_000, using: &rng))
            if daemon.process.isRunning, try stored() < total {
                _ = daemon.stop(SIGKILL)
                kills += 1
            } else {
                _ = daemon.stop(SIGTERM)
            }
            counts.append(try stored())
        }
        // A last run finishes the job and stops cleanly.
        let daemon = try OneRecProcess(environment: environment)
        let deadline = Date().addingTimeInterval(60)
        while try stored() < total && Date() < deadline { usleep(50_000) }
        #expect(daemon.stop(SIGTERM)?.status == 0)
        print("ingest crash test: \(kills) SIGKILLs; stored after each run \(counts); finally \(try stored()) of \(total)")
        #expect(kills >= 2, "killed \(kills) times; counts \(counts)")
        #expect(try stored() == total, "counts after each kill: \(counts)")
    }
}
