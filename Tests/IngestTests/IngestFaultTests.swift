import Events
import Foundation
import Ingest
import Kafka
import LMDB
import Logging
@testable import Store
import TestSupport
import Testing

/// Ingest against librdkafka's in-process mock cluster, with faults injected: fetches failing (a
/// dropped connection, a leader that moved, a timeout), then every broker down for a while. Nothing is lost or
/// stored twice, the outage is reported while it lasts, and ingest resumes by itself.
@Suite(.serialized) struct IngestFaultTests {
    static let logger = { var l = Logger(label: "ingest-faults"); l.logLevel = .critical; return l }()

    /// librdkafka's mock cluster with topics `<name>.interactions` (`partitions`), `.items` and `.dlq`, a
    /// producer of interactions 0, 1, ... keyed by user, and an ingest configuration on those topics.
    struct Mock {
        let cluster: KafkaMockCluster
        let producer: KafkaProducer
        var config: IngestService.Config

        init(_ name: String, brokers: Int, partitions: Int) throws {
            cluster = try KafkaMockCluster(brokers: brokers)
            for (topic, n) in [("\(name).interactions", partitions), ("\(name).items", 1), ("\(name).dlq", 1)] { try cluster.createTopic(topic, partitions: n) }
            config = IngestService.Config(kafka: KafkaConfig(brokers: cluster.bootstrapServers))
            (config.groupID, config.interactionsTopic, config.itemsTopic, config.deadLetterTopic, config.instanceID) =
                (name, "\(name).interactions", "\(name).items", "\(name).dlq", "\(name)-test")
            // Idempotent: a produce request retried across the injected faults must not write its messages
            // twice, or the consumer's duplicate count would count the producer's.
            var producing = config.kafka
            producing.properties["enable.idempotence"] = "true"
            producer = try KafkaProducer(config: producing, logger: IngestFaultTests.logger)
        }

        func produce(_ range: Range<Int>) throws {
            for i in range { try producer.send(topic: config.interactionsTopic, key: Array("\(i % 13)".utf8), value: Array(sampleInteraction(i, user: UInt64(i % 13)).json().utf8)) }
            try producer.flush()
        }
    }

    /// Polls `done` until it holds; fails the test after `seconds`.
    static func wait(_ what: String, _ seconds: Double, until done: () throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while try !done() {
            try #require(Date() < deadline, "\(what) within \(seconds) s")
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func ingestLivesThroughFailingRequestsAndBrokersGoingDown() async throws {
        let kafka = try Mock("faults", brokers: 3, partitions: 4)
        let mock = kafka.cluster
        try kafka.produce(0..<3_000)
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try HistoryStore(environment: Environment(path: dir.path))
        let service = try IngestService(config: kafka.config, store: store, logger: Self.logger)
        mock.failNext(.fetch, with: [.disconnect, .leaderMoved, .disconnect, .timedOut])
        let run = Task { try await service.run() }
        // A liveness bound, not a speed target: after the injected fetch failures librdkafka backs off and
        // refreshes metadata, which took 110-124 s on an idle 2-core machine.
        try await Self.wait("the first 3,000 events", 300) { try store.counts().interactions == 3_000 }
        for broker: Int32 in 1...3 { try mock.setBroker(broker, up: false) }
        try await Self.wait("the outage noticed", 30) { service.brokersUnreachableSince != nil }
        try await Task.sleep(for: .seconds(2))
        for broker: Int32 in 1...3 { try mock.setBroker(broker, up: true) }
        try kafka.produce(3_000..<5_000)
        try await Self.wait("ingest resuming", 60) { try store.counts().interactions == 5_000 }
        try await Self.wait("the outage cleared", 30) { service.brokersUnreachableSince == nil }
        service.stop()
        try await run.value
        #expect(service.totals.stored == 5_000 && service.totals.duplicates == 0 && service.totals.invalid == 0, "\(service.totals)")
    }

    /// The store refuses writes (its map at the most it may grow to, as when the disk is full): ingest holds
    /// the refused batch, says why, stores nothing after it and commits nothing for it; started again with
    /// room, it stores every event exactly once.
    @Test func aFullStoreHoldsIngestAndLosesNothing() async throws {
        var kafka = try Mock("full", brokers: 1, partitions: 2)
        try kafka.produce(0..<3_000)
        (kafka.config.maxBatchMessages, kafka.config.storeRetryInterval) = (200, .milliseconds(100))
        // The mock cluster waits out a closed static member's session before the restart below may rejoin.
        kafka.config.kafka.properties["session.timeout.ms"] = "6000"
        let (config, logger) = (kafka.config, Self.logger)
        let dir = TempDirectory()
        defer { dir.cleanup() }

        // A 512 KiB map that may not grow holds a few hundred of the 3,000 events. (A function of its own:
        // the store must be closed before the next phase opens it again.)
        func full() async throws -> Int {
            var small = Environment.Options()  // as the daemon opens it, through a write map
            (small.flags, small.mapSize, small.maxMapSize) = ([.writeMap], 512 << 10, 512 << 10)
            let store = try HistoryStore(environment: Environment(path: dir.path, options: small))
            let held = try IngestService(config: config, store: store, logger: logger)
            let run = Task { try await held.run() }
            try await Self.wait("the store refusing a batch", 120) { held.storeUnwritable != nil }
            let stored = held.totals.stored
            try await Task.sleep(for: .milliseconds(500))  // several retries
            #expect(stored > 0 && stored < 3_000 && held.totals.stored == stored, "stored \(stored), then \(held.totals.stored)")
            #expect(held.storeUnwritable?.reason.contains("MDB_MAP_FULL") == true, "\(String(describing: held.storeUnwritable))")
            #expect(try store.counts().interactions == stored)
            held.stop()
            try await run.value
            #expect(held.totals.stored == stored)
            return stored
        }
        let stored = try await full()

        // With room, the same store takes the rest: each event once, from the offsets it kept.
        let opened = try OpenStore.forWriting(path: dir.path, mapSizeMiB: 1, holder: "test")
        let roomy = try HistoryStore(environment: opened.environment)
        let resumed = try IngestService(config: config, store: roomy, logger: logger)
        let secondRun = Task { try await resumed.run() }
        try await Self.wait("the rest stored", 120) { try roomy.counts().interactions == 3_000 }
        resumed.stop()
        try await secondRun.value
        #expect(resumed.totals.stored == 3_000 - stored && resumed.totals.duplicates == 0 && resumed.storeUnwritable == nil)
    }
}
