import Events
import Foundation
import Glibc
import Kafka
import Logging
import Simulator
import Store
import Synchronization
import TestSupport
import Testing

/// Every command that opens a store, run again and again beside a daemon that ingests from the real broker
/// and trains on the same store: the daemon stays alive, the data file never shrinks, the commands' counts
/// only grow, and every event the daemon stored is there at the end. Inspection opens the store read-only;
/// `codebook build --store` is refused while the daemon writes the store, naming it.
@Suite(.serialized) struct StoreBesideDaemonTests {
    static let token = "store-beside-daemon-token-0123456789"
    static let rounds = 20

    /// Topics of the test's own on the shared test broker, a catalog with content embeddings (so the
    /// learner builds codes and trains) and a producer of interactions in sessions of five.
    final class Feed: @unchecked Sendable {
        // @unchecked: `produced` is only touched under `lock`; the producer is thread-safe.
        let broker: String
        let topic: String, itemsTopic: String, group: String
        let producer: KafkaProducer
        private let lock = Mutex(0)
        var produced: Int { lock.withLock { $0 } }

        init() throws {
            broker = ProcessInfo.processInfo.environment["ONEREC_TEST_KAFKA"]!
            let suffix = UUID().uuidString.prefix(8)
            (topic, itemsTopic, group) = ("beside-i-\(suffix)", "beside-items-\(suffix)", "beside-\(suffix)")
            var logger = Logger(label: "store-beside-daemon")
            logger.logLevel = .warning
            let admin = try KafkaAdmin(config: KafkaConfig(brokers: [broker]), logger: logger)
            try admin.createTopic(topic, partitions: 2)
            try admin.createTopic(itemsTopic, partitions: 1)
            producer = try KafkaProducer(config: KafkaConfig(brokers: [broker]), logger: logger)
            var world = World.Config()
            (world.items, world.users) = (311, 997)
            for event in World(config: world).catalog(idPrefix: "beside-item", timestampMs: 1_767_225_000_000) {
                try producer.send(topic: itemsTopic, key: Array("\(event.key)".utf8), value: Array(event.json().utf8))
            }
        }

        /// Sends `count` more interactions.
        func send(_ count: Int) throws {
            try lock.withLock { next in
                for i in next..<next + count {
                    let user = UInt64(i % 997)
                    let event = Event.interaction(InteractionEvent(
                        eventID: "beside-\(i)", userID: user, itemID: UInt64((i * 7) % 311), timestampMs: 1_767_225_600_000 + Int64(i),
                        requestID: "r\(i / 5)", position: i % 5, watchTimeMs: i % 3 == 0 ? 2500 : 1000, durationMs: 3000))
                    try producer.send(topic: topic, key: Array("\(user)".utf8), value: Array(event.json().utf8))
                }
                next += count
            }
        }

        func daemonEnvironment(store: String) -> [String: String] {
            ["ONEREC_KAFKA_BROKERS": broker, "ONEREC_KAFKA_INTERACTIONS_TOPIC": topic, "ONEREC_KAFKA_ITEMS_TOPIC": itemsTopic,
             "ONEREC_KAFKA_GROUP_ID": group, "ONEREC_KAFKA_INSTANCE_ID": "beside-daemon", "ONEREC_STORE_PATH": store,
             "ONEREC_ADMIN_TOKEN": StoreBesideDaemonTests.token, "ONEREC_TRAINER_PRESET": "tiny",
             "ONEREC_TRAINER_PUBLISH_EVERY_STEPS": "20", "ONEREC_ALIGNMENT_INTERVAL_SECONDS": "0"]
        }
    }

    func dataFileSize(_ store: String) -> Int {
        var st = stat()
        return stat(store + "/data.mdb", &st) == 0 ? Int(st.st_size) : 0
    }

    /// Interactions and items stored, as `store stats` prints them.
    func stats(_ store: String) throws -> (interactions: Int, items: Int, output: String) {
        let r = try runToCompletion(builtExecutable("onerec"), ["store", "stats", "--path", store])
        let value = { (name: String) in
            r.stdout.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Int($0.split(separator: " ")[1]) } ?? -1
        }
        return (value("interactions"), value("items"), r.stdout + r.stderr)
    }

    /// `rounds` rounds of every store-opening command beside `daemon`, which ingests what a feeder thread
    /// sends meanwhile; checks after each command.
    func runCommands(beside daemon: OneRecProcess, store: String, feed: Feed) throws {
        let onerec = builtExecutable("onerec")
        let feeding = Atomic(true)
        let feeder = Thread {
            while feeding.load(ordering: .relaxed) {
                try? feed.send(100)
                usleep(100_000)
            }
        }
        feeder.start()
        defer { feeding.store(false, ordering: .relaxed) }
        var size = dataFileSize(store)
        var last = (interactions: 0, items: 0)
        var codebookSeen = false
        let pid = daemon.process.processIdentifier
        for round in 0..<Self.rounds {
            let s = try stats(store)
            #expect(s.interactions >= last.interactions && s.items >= last.items && s.items <= 311, "round \(round): \(s.output) after \(last)")
            #expect(s.interactions <= feed.produced, "round \(round): more stored than produced: \(s.output)")
            last = (s.interactions, s.items)

            let report = try runToCompletion(onerec, ["codebook", "report", "--store", store])
            if report.status == 0 {
                codebookSeen = true
                #expect(report.stdout.contains("codebook version 1 of 1"), "\(report.stdout)")
            } else {
                #expect(!codebookSeen && report.stderr.contains("no codebook in \(store) yet"), "round \(round): \(report.stderr)")
            }

            let build = try runToCompletion(onerec, ["codebook", "build", "--synthetic", "64", "--dimension", "8", "--store", store])
            #expect(build.status == 1 && build.stderr.contains("being written by another process (pid \(pid), onerec serve"), "\(build.stderr)")

            #expect(daemon.process.isRunning, "the daemon died in round \(round): \(daemon.stderr.suffix(3000))")
            let now = dataFileSize(store)
            #expect(now >= size, "round \(round): the data file shrank from \(size) to \(now) bytes")
            size = max(size, now)
        }
        #expect(codebookSeen, "the daemon never built its codebook")
        #expect(last.interactions > 0)
    }

    /// Waits until the store holds everything produced, read beside the daemon; then stops the daemon and
    /// checks counts and offsets.
    func finish(_ daemon: OneRecProcess, store: String, feed: Feed) throws {
        try feed.producer.flush(timeout: .seconds(60))
        let deadline = Date().addingTimeInterval(120)
        while try stats(store).interactions < feed.produced && Date() < deadline { usleep(200_000) }
        #expect(daemon.stop(SIGTERM)?.status == 0, "\(daemon.stderr.suffix(3000))")
        let history = try OpenStore.readOnly(path: store).history()
        let offsets = try history.offsets(topic: feed.topic, partitions: [0, 1])
        #expect(try history.counts().interactions == feed.produced)
        #expect(offsets.values.reduce(0, +) == Int64(feed.produced))
    }

    /// The learner's steps, from the admin status.
    func learnerSteps(_ daemon: OneRecProcess) -> Int {
        guard let answer = httpGet(port: daemon.port, path: "/v1/admin/status", headers: ["Authorization": "Bearer \(Self.token)"]),
              let json = try? JSONSerialization.jsonObject(with: Data(answer.1.utf8)) as? [String: Any],
              let learner = json["learner"] as? [String: Any] else { return 0 }
        return learner["steps"] as? Int ?? 0
    }

    /// A feed with its first 2,000 interactions sent, and a directory for the store; nil (an issue
    /// recorded) without the test broker.
    func setUp() throws -> (feed: Feed, dir: TempDirectory)? {
        guard ProcessInfo.processInfo.environment["ONEREC_TEST_KAFKA"] != nil else {
            Issue.record("ONEREC_TEST_KAFKA is not set: run the tests with scripts/test.sh")
            return nil
        }
        let feed = try Feed()
        try feed.send(2_000)
        return (feed, TempDirectory())
    }

    @Test func inspectionAndCodebookCommandsBesideAnIngestingTrainingDaemon() throws {
        guard let (feed, dir) = try setUp() else { return }
        defer { dir.cleanup() }
        let store = dir.path + "/store"
        let daemon = try OneRecProcess(environment: feed.daemonEnvironment(store: store))
        #expect(daemon.waitUntilHealthy())
        try runCommands(beside: daemon, store: store, feed: feed)
        #expect(learnerSteps(daemon) > 0, "the daemon did not train while the commands ran")
        try finish(daemon, store: store, feed: feed)
    }

    /// `store.mapSizeMegabytes` lowered below the data file's size between two runs: the file keeps its
    /// size and the same commands run beside the second run.
    @Test func aMapSizeLoweredBetweenRunsNeverShrinksTheFile() throws {
        guard let (feed, dir) = try setUp() else { return }
        defer { dir.cleanup() }
        let store = dir.path + "/store"
        var environment = feed.daemonEnvironment(store: store)
        environment["ONEREC_STORE_MAP_SIZE_MEGABYTES"] = "64"
        let first = try OneRecProcess(environment: environment)
        #expect(first.waitUntilHealthy())
        while try stats(store).interactions < 2_000 && first.process.isRunning { usleep(100_000) }
        #expect(first.stop(SIGTERM)?.status == 0)
        let size = dataFileSize(store)
        #expect(size >= 64 << 20)

        environment["ONEREC_STORE_MAP_SIZE_MEGABYTES"] = "1"
        let second = try OneRecProcess(environment: environment)
        #expect(second.waitUntilHealthy())
        #expect(dataFileSize(store) >= size, "the second run shrank the data file to \(dataFileSize(store)) bytes")
        try runCommands(beside: second, store: store, feed: feed)
        try finish(second, store: store, feed: feed)
        #expect(dataFileSize(store) >= size)
    }
}
