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
    @Option(help: "Runs of each reader over the topic; the median is reported.") var `repeat` = 3

    static let largestResponse = 1_000_000_000

    func run() async throws {
        var logger = Logger(label: "onerec.bench")
        logger.logLevel = .warning
        // Both readers accept responses up to 1 GB: the test broker answers a fetch with whole partitions, more
        // than librdkafka's default 100 MB limit for a topic of a million events.
        let kafka = KafkaConfig(brokers: brokers.split(separator: ",").map(String.init), clientID: "onerec-bench",
                                properties: ["receive.message.max.bytes": "\(Self.largestResponse)"])
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

        // Each reader runs `repeat` times over the same topic; the median run is reported.
        var raw: [Double] = [], group: [Double] = [], ingest: [(total: Double, steady: Double, batches: Int)] = []
        // An untimed read first: the test broker's first fetch of a topic is several times slower than the
        // next ones. Then each timed run starts on an idle machine (see waitForQuietMachine).
        _ = try kcat(["-C", "-t", topic, "-o", "beginning"], expect: produced)
        var waited = 0.0
        for run in 0..<self.repeat {
            waited += try await waitForQuietMachine()
            raw.append(try kcat(["-C", "-t", topic, "-o", "beginning"], expect: produced))
            waited += try await waitForQuietMachine()
            group.append(try kcat(["-G", "bench-kcat-\(suffix)-\(run)", "-X", "auto.offset.reset=earliest", topic], expect: produced))
            waited += try await waitForQuietMachine()
            ingest.append(try await onerec(kafka: kafka, topic: topic, group: "bench-\(suffix)-\(run)", expect: produced, logger: logger))
            print(String(format: "run %d: kcat -C %.2f s, kcat -G %.2f s, onerec %.2f s", run + 1, raw[run], group[run], ingest[run].total))
        }
        print(String(format: "waited %.1f s in all for an idle machine before the timed runs", waited))
        let (r, g) = (median(raw), median(group))
        let i = ingest.sorted { $0.total < $1.total }[ingest.count / 2]
        let n = Double(produced)
        print(String(format: "kcat raw consume (-C, no group)  : %8.0f events/s (%.2f s, median of %d)", n / r, r, self.repeat))
        print(String(format: "kcat group consume (-G)          : %8.0f events/s (%.2f s)", n / g, g))
        print(String(format: "onerec ingest into LMDB          : %8.0f events/s (%.2f s, %d batches; after the first batch: %.0f events/s)",
                     n / i.total, i.total, i.batches, n / i.steady))
        print(String(format: "ratio onerec / kcat raw = %.2f, onerec / kcat group = %.2f", r / i.total, g / i.total))
    }

    /// Seconds kcat takes to read the whole topic, printing a newline per message.
    private func kcat(_ mode: [String], expect produced: Int) throws -> Double {
        let start = Date()
        let kcat = Process()
        kcat.executableURL = URL(fileURLWithPath: "/usr/bin/kcat")
        kcat.arguments = ["-b", brokers, "-e", "-q", "-f", "\n", "-X", "receive.message.max.bytes=\(Self.largestResponse)"] + mode
        let out = Pipe()
        kcat.standardOutput = out
        do { try kcat.run() } catch { throw CommandError("cannot run /usr/bin/kcat (scripts/setup.sh installs it): \(error)") }
        let lines = out.fileHandleForReading.readDataToEndOfFile().filter { $0 == UInt8(ascii: "\n") }.count
        kcat.waitUntilExit()
        guard lines == produced else { throw CommandError("kcat \(mode[0]) read \(lines) of \(produced) messages") }
        return Date().timeIntervalSince(start)
    }

    /// The ingest service into a fresh store until every event is stored: seconds in all (group join
    /// included, as for kcat -G), seconds after the first batch was stored, batches.
    private func onerec(kafka: KafkaConfig, topic: String, group: String, expect produced: Int, logger: Logger) async throws -> (total: Double, steady: Double, batches: Int) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onerec-\(group)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try HistoryStore(environment: Environment(path: dir, options: .store(mapSizeMiB: 256)))
        var config = IngestService.Config(kafka: kafka)
        (config.groupID, config.interactionsTopic, config.itemsTopic, config.instanceID) = (group, topic, topic, "bench")
        let service = try IngestService(config: config, store: store, logger: logger)
        let start = Date()
        var first: (time: Date, events: Int)?
        let running = Task { try await service.run() }
        while true {
            let t = service.totals
            let done = t.stored + t.duplicates + t.invalid
            if first == nil && done > 0 { first = (Date(), done) }
            if done >= produced { break }
            guard Date().timeIntervalSince(start) < 600 else { service.stop(); throw CommandError("ingest did not finish in 600 s") }
            try await Task.sleep(for: .milliseconds(2))
        }
        let end = Date()
        service.stop()
        try await running.value
        let steady = end.timeIntervalSince(first!.time) * Double(produced) / Double(max(produced - first!.events, 1))
        return (end.timeIntervalSince(start), steady, service.totals.batches)
    }
}

private func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
