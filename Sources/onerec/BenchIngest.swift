import ArgumentParser
import Foundation
import Kafka
import LMDB
import Logging
import Simulator
import Store

/// `onerec bench ingest`: events/s from the broker into LMDB (validated, deduplicated, offsets in the
/// same transaction) next to kcat's raw consume rate of the same topic, measured in the same run. The
/// default size stays under 100 MB of messages: the test broker (noida-db) answers a fetch with the whole
/// topic whatever fetch.max.bytes says, and librdkafka refuses responses above receive.message.max.bytes.
struct BenchIngest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ingest", abstract: "Ingest events/s into LMDB next to kcat's raw consume rate.")
    @Option(help: "Kafka brokers host:port[,...].") var brokers: String
    @Option(help: "Users in the world.") var users = 30_000
    @Option(help: "Items in the world.") var items = 2000
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Option(help: "Sessions per user in the produced log.") var requests = 4
    @Option(help: "Partitions of the benchmark topic.") var partitions = 4

    func run() async throws {
        var logger = Logger(label: "onerec.bench")
        logger.logLevel = .warning
        let kafka = KafkaConfig(brokers: brokers.split(separator: ",").map(String.init), clientID: "onerec-bench")
        let suffix = UUID().uuidString.prefix(8)
        let topic = "bench-ingest-\(suffix)"
        try KafkaAdmin(config: kafka, logger: logger).createTopic(topic, partitions: partitions)

        // The log: the world's catalog and sessions, everything on one topic.
        var wc = World.Config()
        (wc.users, wc.items, wc.seed) = (users, items, seed)
        var sim = SimulationLog(world: World(config: wc))
        sim.requestsPerUser = requests
        let sink = try EventSink(out: nil, brokers: brokers, topic: topic, itemsTopic: topic)
        var produced = 0
        var policy = PopularityPolicy(items: items, seed: seed)
        _ = try sim.run(policy: &policy) { event in
            try sink.write(event)
            produced += 1
        }
        try sink.finish()
        print("produced \(produced) events to \(topic) (\(partitions) partitions)")

        // kcat: consume everything, print nothing but a newline per message.
        let kcatStart = Date()
        let kcat = Process()
        kcat.executableURL = URL(fileURLWithPath: "/usr/bin/kcat")
        kcat.arguments = ["-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "\n"]
        let out = Pipe()
        kcat.standardOutput = out
        do { try kcat.run() } catch { throw CommandError("cannot run /usr/bin/kcat (scripts/setup.sh installs it): \(error)") }
        let lines = out.fileHandleForReading.readDataToEndOfFile().filter { $0 == UInt8(ascii: "\n") }.count
        kcat.waitUntilExit()
        let kcatSeconds = Date().timeIntervalSince(kcatStart)
        guard lines == produced else { throw CommandError("kcat read \(lines) of \(produced) messages") }

        // onerec: the ingest service into a fresh store until every event is stored.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onerec-bench-\(suffix)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try HistoryStore(environment: Environment(path: dir))
        var config = IngestService.Config(kafka: kafka)
        (config.groupID, config.interactionsTopic, config.itemsTopic, config.instanceID) = ("bench-\(suffix)", topic, topic, "bench")
        let service = try IngestService(config: config, store: store, logger: logger)
        let start = Date()
        let running = Task { try await service.run() }
        while service.totals.stored + service.totals.duplicates + service.totals.invalid < produced {
            guard Date().timeIntervalSince(start) < 600 else { service.stop(); throw CommandError("ingest did not finish in 600 s") }
            try await Task.sleep(for: .milliseconds(5))
        }
        let seconds = Date().timeIntervalSince(start)
        service.stop()
        try await running.value
        let t = service.totals
        print(String(format: "kcat raw consume : %8.0f events/s (%d in %.2f s)", Double(produced) / kcatSeconds, produced, kcatSeconds))
        print(String(format: "onerec ingest    : %8.0f events/s (%d stored, %d invalid, %d batches, in %.2f s, into LMDB)",
                     Double(produced) / seconds, t.stored, t.invalid, t.batches, seconds))
        print(String(format: "ratio onerec / kcat = %.2f", kcatSeconds / seconds))
    }
}
