import ArgumentParser
import Client
import Foundation
import Kafka
import Logging
import Ingest
import Store

/// `onerec bench ingest`: events/s from the broker into LMDB (validated, deduplicated, offsets in the
/// same transaction) next to kcat's raw consume rate of the same topic, measured in the same run. The
/// default size stays under 100 MB of messages: the test broker (noida-db) answers a fetch with the whole
/// topic whatever fetch.max.bytes says, and librdkafka refuses responses above receive.message.max.bytes.
///
/// Every reader gets the same librdkafka queue settings (`readerProperties`). Each run also prints where the
/// machine's CPU went: the reader's own CPU seconds and the rest of the machine's (the broker, mostly), so a
/// broker that works harder for one reader than for another shows in the figures.
struct BenchIngest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ingest", abstract: "Ingest events/s into LMDB next to kcat's raw consume rate.")
    @Option(help: "Kafka brokers host:port[,...].") var brokers: String
    @Option(help: "Users in the world.") var users = 30_000
    @Option(help: "Items in the world.") var items = 2000
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Option(help: "Sessions per user in the produced log.") var requests = 4
    @Option(help: "Partitions of the benchmark topic.") var partitions = 4
    @Option(help: "Runs of each reader over the topic; the median is reported.") var `repeat` = 3

    /// librdkafka settings of all three readers. Responses up to 1 GB: the test broker answers a fetch with
    /// whole partitions, more than the default 100 MB limit for a topic of a million events. Unbounded
    /// prefetch: by default librdkafka stops fetching a partition while more than 100,000 of its messages
    /// (or 64 MB) wait to be polled, and looks again only when its broker thread wakes, once a second; with
    /// whole-partition answers that made every reader's time a whole number of seconds (the README's
    /// ingest section has the figures).
    static let readerProperties = [
        "receive.message.max.bytes": "1000000000",
        "queued.min.messages": "10000000",
        "queued.max.messages.kbytes": "2097151",
    ]

    /// One timed read of the whole topic: wall seconds, the reader's own CPU seconds, and the CPU seconds
    /// the rest of the machine used meanwhile.
    struct Run {
        var seconds: Double, cpu: Double, others: Double
        var description: String { String(format: "%.2f s (CPU %.2f s, rest of machine %.2f s)", seconds, cpu, others) }
    }

    func run() async throws {
        var logger = Logger(label: "onerec.bench")
        logger.logLevel = .warning
        let kafka = KafkaConfig(brokers: brokers.split(separator: ",").map(String.init), clientID: "onerec-bench",
                                properties: Self.readerProperties)
        let suffix = UUID().uuidString.prefix(8)
        let topic = "bench-ingest-\(suffix)"
        try KafkaAdmin(config: kafka, logger: logger).createTopic(topic, partitions: partitions)

        // The log: the world's catalog and sessions, everything on one topic.
        let sink = try EventSink(brokers: brokers, topic: topic, itemsTopic: topic)
        var produced = 0
        try simulatorLog(users: users, items: items, seed: seed, requests: requests) { event in
            try sink.write(event)
            produced += 1
        }
        try sink.finish()
        print("produced \(produced) events to \(topic) (\(partitions) partitions)")

        // Each reader runs `repeat` times over the same topic; the median run is reported.
        var raw: [Run] = [], group: [Run] = [], ingest: [Run] = []
        var batches: [Int] = []
        // An untimed read first: the test broker's first fetch of a topic is several times slower than the
        // next ones. Then each timed run starts on an idle machine (see waitForQuietMachine).
        _ = try kcat(["-C", "-t", topic, "-o", "beginning"], expect: produced)
        var waited = 0.0
        for run in 0..<self.repeat {
            waited += try await waitForQuietMachine()
            raw.append(try await timed(.waitedChildren) { try kcat(["-C", "-t", topic, "-o", "beginning"], expect: produced) })
            waited += try await waitForQuietMachine()
            group.append(try await timed(.waitedChildren) {
                try kcat(["-G", "bench-kcat-\(suffix)-\(run)", "-X", "auto.offset.reset=earliest", topic], expect: produced)
            })
            waited += try await waitForQuietMachine()
            ingest.append(try await timed(.thisProcess) {
                let (seconds, count) = try await onerec(kafka: kafka, topic: topic, group: "bench-\(suffix)-\(run)", expect: produced, logger: logger)
                batches.append(count)
                return seconds
            })
            print("run \(run + 1): kcat -C \(raw[run].description)")
            print("       kcat -G \(group[run].description)")
            print("       onerec  \(ingest[run].description)")
        }
        print(String(format: "waited %.1f s in all for an idle machine before the timed runs", waited))
        let (r, g, m) = (raw[median(raw)], group[median(group)], median(ingest))
        let i = ingest[m]
        let n = Double(produced)
        print(String(format: "kcat raw consume (-C, no group)  : %8.0f events/s (%.2f s, median of %d)", n / r.seconds, r.seconds, self.repeat))
        print(String(format: "kcat group consume (-G)          : %8.0f events/s (%.2f s)", n / g.seconds, g.seconds))
        print(String(format: "onerec ingest into LMDB          : %8.0f events/s (%.2f s, %d batches; CPU %.2f us per event)",
                     n / i.seconds, i.seconds, batches[m], i.cpu / n * 1e6))
        print(String(format: "ratio onerec / kcat raw = %.2f, onerec / kcat group = %.2f", r.seconds / i.seconds, g.seconds / i.seconds))
        print(String(format: "rest of the machine's CPU during the median runs: kcat -C %.2f s, kcat -G %.2f s, onerec %.2f s",
                     r.others, g.others, i.others))
    }

    /// `body` timed: its wall seconds (as it reports them), `who`'s CPU seconds and everyone else's.
    private func timed(_ who: CPUUser, _ body: () async throws -> Double) async throws -> Run {
        let cpu = cpuSeconds(of: who)
        let (seconds, busy) = try await machineBusySeconds(body)
        let own = cpuSeconds(of: who) - cpu
        return Run(seconds: seconds, cpu: own, others: max(0, busy - own))
    }

    /// Seconds kcat takes to read the whole topic, printing a newline per message.
    private func kcat(_ mode: [String], expect produced: Int) throws -> Double {
        let start = Date()
        let kcat = Process()
        kcat.executableURL = URL(fileURLWithPath: "/usr/bin/kcat")
        kcat.arguments = ["-b", brokers, "-e", "-q", "-f", "\n"] + Self.readerProperties.sorted { $0.key < $1.key }.flatMap { ["-X", "\($0.key)=\($0.value)"] } + mode
        let out = Pipe()
        kcat.standardOutput = out
        do { try kcat.run() } catch { throw BenchmarkError("cannot run /usr/bin/kcat (scripts/setup.sh installs it): \(error)") }
        let lines = out.fileHandleForReading.readDataToEndOfFile().filter { $0 == UInt8(ascii: "\n") }.count
        kcat.waitUntilExit()
        guard lines == produced else { throw BenchmarkError("kcat \(mode[0]) read \(lines) of \(produced) messages") }
        return Date().timeIntervalSince(start)
    }

    /// The ingest service into a fresh store until every event is stored: seconds (group join included, as
    /// for kcat -G) and batches.
    private func onerec(kafka: KafkaConfig, topic: String, group: String, expect produced: Int, logger: Logger) async throws -> (seconds: Double, batches: Int) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onerec-\(group)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try OpenStore.forWriting(path: dir, mapSizeMiB: 256, holder: "onerec bench").history()
        var config = IngestService.Config(kafka: kafka)
        (config.groupID, config.interactionsTopic, config.itemsTopic, config.instanceID) = (group, topic, topic, "bench")
        let service = try IngestService(config: config, store: store, logger: logger)
        let start = Date()
        let running = Task { try await service.run() }
        while true {
            let t = service.totals
            if t.stored + t.duplicates + t.invalid >= produced { break }
            guard Date().timeIntervalSince(start) < 600 else { service.stop(); throw BenchmarkError("ingest did not finish in 600 s") }
            try await Task.sleep(for: .milliseconds(2))
        }
        let end = Date()
        service.stop()
        try await running.value
        return (end.timeIntervalSince(start), service.totals.batches)
    }
}

/// The index of the run of median wall time.
private func median(_ runs: [BenchIngest.Run]) -> Int { runs.indices.sorted { runs[$0].seconds < runs[$1].seconds }[runs.count / 2] }
