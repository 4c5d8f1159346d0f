import ArgumentParser
import Client
import Foundation
import Ingest
import Kafka
import Logging
import Synchronization

/// `onerec bench publish`: how long a version takes from the train node to every serve node. One train
/// node and `--serve-nodes` serve nodes run as `onerec serve` processes on the broker; the train node
/// trains on a simulator log and publishes a version every `--publish-every` steps. Each serve node's
/// status says, for the last promotion it applied, when the train node made it and when this node served
/// it; polling them every 20 ms gives each version's latency on each node (sending, chunks through the
/// broker, verifying, loading and the swap). The peer, measured in the same run: the same number of bytes
/// in the same 512 KiB chunks through the same broker, producer to consumer, nothing else.
struct BenchPublish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "publish",
                                                     abstract: "Publish → serving latency on every serve node, next to the broker moving the same bytes.")
    @Option(help: "Kafka brokers host:port[,...].") var brokers: String
    @Option(help: "Serve nodes.") var serveNodes = 3
    @Option(help: "Versions measured.") var versions = 20
    @Option(help: "Generator size of the train node: tiny, small, base.") var preset = "small"
    @Option(help: "Steps between the train node's versions.") var publishEvery = 100
    @Option(help: "Users in the simulator's log.") var users = 2000
    @Option(help: "Items in the simulator's log.") var items = 1000

    func run() async throws {
        let (logger, kafka, suffix) = clusterBenchStart(brokers: brokers)
        let models = "bench-publish-models-\(suffix)"
        let (events, catalog) = try simulatedTopics(brokers: brokers, kafka: kafka, prefix: "bench-publish", suffix: suffix, users: users, items: items,
                                                    seed: 1, requests: 4, logger: logger)

        let common = ["ONEREC_KAFKA_BROKERS": brokers, "ONEREC_KAFKA_INTERACTIONS_TOPIC": events, "ONEREC_KAFKA_ITEMS_TOPIC": catalog,
                      "ONEREC_KAFKA_GROUP_ID": "bench-\(suffix)", "ONEREC_CLUSTER_MODELS_TOPIC": models]
        let basePort = 19_300 + Int.random(in: 0..<500)
        let train = try BenchDaemon(preset: preset, beam: 16, port: basePort, environment: common.merging([
            "ONEREC_CLUSTER_ROLE": "train", "ONEREC_KAFKA_INSTANCE_ID": "bench-train-\(suffix)", "ONEREC_COMPUTE_THREADS": "1",
            "ONEREC_TRAINER_PUBLISH_EVERY_STEPS": "\(publishEvery)"]) { $1 })
        var serve: [BenchDaemon] = []
        for i in 0..<serveNodes {  // one after another: the test broker stalls members joining a new group together
            let node = try BenchDaemon(preset: preset, beam: 16, port: basePort + 1 + i, environment: common.merging([
                "ONEREC_CLUSTER_ROLE": "serve", "ONEREC_KAFKA_INSTANCE_ID": "bench-serve-\(i)-\(suffix)"]) { $1 })
            serve.append(node)
            while await node.status() == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        print("train node and \(serveNodes) serve nodes running; \(preset) generator, a version every \(publishEvery) steps")
        let first = try await train.waitForFirstModel()
        print(String(format: "first version after %.0f s", first))

        // version -> seconds from the train node's promotion to each node serving it
        var seen: [Int: [Int: Double]] = [:]
        var firstMeasured: Int?
        let deadline = Date().addingTimeInterval(Double(versions) * 120)
        while Date() < deadline {
            for (i, node) in serve.enumerated() {
                guard let following = ((await node.status())?["cluster"] as? [String: Any])?["following"] as? [String: Any],
                      let top = (following["applied"] as? [Int])?.last, let at = following["promotedAt"] as? Double,
                      let serving = following["servingAt"] as? Double else { continue }
                if firstMeasured == nil { firstMeasured = top + 1 }  // the first one seen may predate the node's start
                if top >= firstMeasured!, seen[top]?[i] == nil { seen[top, default: [:]][i] = serving - at }
            }
            if let firstMeasured, seen.filter({ $0.key >= firstMeasured && $0.value.count == serveNodes }).count >= versions { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let complete = seen.filter { $0.value.count == serveNodes }
        guard complete.count >= versions else { throw BenchmarkError("only \(complete.count) of \(versions) versions reached every node in time") }
        let measured = complete.sorted { $0.key < $1.key }.prefix(versions)
        let perNode = measured.flatMap { $0.value.values }.sorted()
        let everyNode = measured.map { $0.value.values.max()! }.sorted()
        let versionsSeen = Set(seen.keys.filter { $0 >= firstMeasured! })
        let missed = (measured.first!.key...measured.last!.key).filter { !versionsSeen.contains($0) }.count
        let package = try packageBytes(train)

        let raw = try await rawTransport(kafka: kafka, bytes: package, runs: 10, logger: logger)
        print(String(format: "versions %d-%d (%d versions, %d not seen by the 20 ms poll); model file %.2f MB (the codebook adds %d items' codes)",
                     measured.first!.key, measured.last!.key, measured.count, missed, Double(package) / 1e6, items))
        print(String(format: "publish → serving, each node     : p50 %.3f s, p99 %.3f s, max %.3f s (%d measurements)",
                     quantile(perNode, 0.5), quantile(perNode, 0.99), perNode.last!, perNode.count))
        print(String(format: "publish → serving, every node    : p50 %.3f s, p99 %.3f s (the slowest of %d nodes per version)",
                     quantile(everyNode, 0.5), quantile(everyNode, 0.99), serveNodes))
        print(String(format: "peer: the same bytes producer → consumer: p50 %.3f s, p99 %.3f s (%d runs)",
                     quantile(raw, 0.5), quantile(raw, 0.99), raw.count))
        print(String(format: "ratio onerec each node / raw transport (p50) = %.2f", quantile(perNode, 0.5) / quantile(raw, 0.5)))
    }

    /// Bytes of the train node's newest model file (the package's bulk; its codebook is a few bytes an item).
    private func packageBytes(_ train: BenchDaemon) throws -> Int {
        let dir = train.directory + "/store/models"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".safetensors") }.sorted()
        guard let newest = files.last, let size = (try FileManager.default.attributesOfItem(atPath: "\(dir)/\(newest)"))[.size] as? Int else {
            throw BenchmarkError("the train node has no model file in \(dir)")
        }
        return size
    }

    /// Seconds from the first chunk's send to the last chunk's arrival, `bytes` in 512 KiB chunks, per run.
    private func rawTransport(kafka: KafkaConfig, bytes: Int, runs: Int, logger: Logger) async throws -> [Double] {
        let topic = "bench-publish-raw-\(UUID().uuidString.prefix(8))"
        try KafkaAdmin(config: kafka, logger: logger).createTopic(topic, partitions: 1)
        let producer = try KafkaProducer(config: kafka, logger: logger)
        var config = KafkaConsumer.Config(kafka: kafka, groupID: topic, topics: [topic])
        config.groupInstanceID = topic
        config.maxBatchMessages = 64
        let consumer = try KafkaConsumer(config: config, logger: logger)
        let reading = Task { try await consumer.run() }
        defer { consumer.stop() }
        let chunk = [UInt8](repeating: 7, count: ModelTopic.chunkBytes)
        let chunks = (bytes + chunk.count - 1) / chunk.count
        let arrivals = Mutex<[Date]>([])
        let receiving = Task.detached {
            var count = 0
            for try await batch in consumer.batches {
                count += batch.messages.count
                if count % chunks == 0 { arrivals.withLock { $0.append(Date()) } }
            }
        }
        defer { receiving.cancel(); reading.cancel() }
        var seconds: [Double] = []
        for run in 0...runs {  // the first run joins the group and is not counted
            let sent = Date()
            for i in 0..<chunks { try producer.send(topic: topic, key: Array("raw/\(i)".utf8), value: chunk, partition: 0) }
            try producer.flush()
            while arrivals.withLock({ $0.count }) <= run {
                guard Date().timeIntervalSince(sent) < 60 else { throw BenchmarkError("raw transport: the chunks did not arrive in 60 s") }
                try await Task.sleep(for: .milliseconds(1))
            }
            if run > 0 { seconds.append(arrivals.withLock { $0[run] }.timeIntervalSince(sent)) }
        }
        return seconds.sorted()
    }
}

private func quantile(_ sorted: [Double], _ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
