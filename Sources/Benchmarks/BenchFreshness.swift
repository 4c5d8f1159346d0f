import ArgumentParser
import Client
import Events
import Foundation
import Ingest
import Kafka
import Logging
import Synchronization

/// `onerec bench freshness`: event → stored under a steady load. A daemon (`onerec serve`, trainer off)
/// ingests a topic while the simulator's events are produced to it at `--rate` events a second for
/// `--seconds`; the daemon reports, for every event it stored, the time from the event's Kafka timestamp
/// (set when it was produced) to the LMDB commit that stored it. The peer, in the same run: a plain
/// consumer of the same topic, the time from the same timestamp to its poll returning the message.
struct BenchFreshness: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "freshness",
                                                    abstract: "Event → stored p50/p99 under a steady event rate, next to a plain consumer's produce → poll.")
    @Option(help: "Kafka brokers host:port[,...].") var brokers: String
    @Option(help: "Events produced per second.") var rate = 500
    @Option(help: "Seconds of production (at most 10,000 events in all: the daemon keeps that many samples).") var seconds = 18

    func run() async throws {
        let total = rate * seconds
        guard rate >= 1, seconds >= 1, total <= 10_000 else { throw ValidationError("--rate x --seconds must be between 1 and 10,000 events") }
        let (logger, kafka, suffix) = clusterBenchStart(brokers: brokers)
        let (events, catalog) = ("bench-freshness-events-\(suffix)", "bench-freshness-items-\(suffix)")
        let admin = try KafkaAdmin(config: kafka, logger: logger)
        try admin.createTopic(events, partitions: 2)
        try admin.createTopic(catalog, partitions: 1)
        var log: [Event] = []
        try simulatorLog(users: 2000, items: 500, seed: 3, requests: 2) { log.append($0) }
        log = Array(log.prefix(total))

        // The peer: a plain consumer of both topics, timing each message from its timestamp to the poll.
        var config = KafkaConsumer.Config(kafka: kafka, groupID: "bench-freshness-peer-\(suffix)", topics: [events, catalog])
        config.groupInstanceID = "bench-freshness-peer-\(suffix)"
        let peer = try KafkaConsumer(config: config, logger: logger)
        let peerDelays = Mutex<[Double]>([])
        let peering = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await peer.run() }
                for try await batch in peer.batches {
                    let now = Date().timeIntervalSince1970 * 1000
                    peerDelays.withLock { d in for m in batch.messages { if let t = m.timestamp { d.append((now - Double(t)) / 1000) } } }
                }
                try await group.waitForAll()
            }
        }
        let daemon = try BenchDaemon(preset: "tiny", beam: 16, port: 19_400 + Int.random(in: 0..<500), environment: [
            "ONEREC_KAFKA_BROKERS": brokers, "ONEREC_KAFKA_INTERACTIONS_TOPIC": events, "ONEREC_KAFKA_ITEMS_TOPIC": catalog,
            "ONEREC_KAFKA_GROUP_ID": "bench-freshness-\(suffix)", "ONEREC_KAFKA_INSTANCE_ID": "bench-freshness-\(suffix)",
            "ONEREC_TRAINER_ENABLED": "false"])
        while await daemon.status() == nil { try await Task.sleep(for: .milliseconds(100)) }
        try await Task.sleep(for: .seconds(3))  // both consumers have joined their groups and fetch

        // Steady production: a tenth of a second's events every 100 ms.
        let sink = try EventSink(brokers: brokers, topic: events, itemsTopic: catalog)
        let start = ContinuousClock.now
        for (tick, slice) in stride(from: 0, to: log.count, by: max(1, rate / 10)).enumerated() {
            try await Task.sleep(until: start + .milliseconds(100 * tick), clock: .continuous)
            for event in log[slice..<min(log.count, slice + max(1, rate / 10))] { try sink.write(event) }
        }
        try sink.finish()
        print(String(format: "produced %d events in %.1f s", log.count, start.duration(to: .now).seconds))

        var freshness: [String: Any]?
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            if let f = (await daemon.status())?["ingestFreshness"] as? [String: Any], f["events"] as? Int ?? 0 >= log.count, peerDelays.withLock({ $0.count }) >= log.count {
                freshness = f
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        peer.stop()
        _ = try? await peering.value
        guard let freshness, let p50 = freshness["p50"] as? Double, let p99 = freshness["p99"] as? Double else {
            throw BenchmarkError("the daemon did not report all \(log.count) events stored within 120 s")
        }
        let peerSorted = peerDelays.withLock { $0 }.sorted()
        let (peer50, peer99) = (peerSorted[peerSorted.count / 2], peerSorted[min(peerSorted.count - 1, peerSorted.count * 99 / 100)])
        print(String(format: "event → stored (onerec, into LMDB): p50 %.3f s, p99 %.3f s over %d events", p50, p99, freshness["events"] as? Int ?? 0))
        print(String(format: "peer: event → polled (plain consumer): p50 %.3f s, p99 %.3f s over %d events", peer50, peer99, peerSorted.count))
        print(String(format: "ratio onerec / plain consumer: p50 %.2f, p99 %.2f (goal: p99 under 1 s)", p50 / peer50, p99 / peer99))
    }
}
