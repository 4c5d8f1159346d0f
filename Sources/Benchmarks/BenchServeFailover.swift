import ArgumentParser
import Client
import Foundation
import FoundationNetworking
import Glibc
import Kafka
import Logging

/// `onerec bench serve-failover`: what users see when a serve node dies. `--serve-nodes` serve nodes
/// share an interactions topic of `--partitions` partitions (the simulator's log); one is killed with
/// SIGKILL, one after another, until one is left, while a closed-loop client asks each survivor for
/// random users. For each kill: the seconds until every partition is answered by its new owner with the
/// partition rebuilt, and the requests answered, answered with fallbacks and failed meanwhile. The peer is
/// the member timeout, the wait before a silent node's partitions move.
struct BenchServeFailover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve-failover",
                                                    abstract: "Seconds from a serve node's kill -9 until its partitions are answered, rebuilt, by the others.")
    @Option(help: "Kafka brokers host:port[,...].") var brokers: String
    @Option(help: "Serve nodes (each kill leaves one fewer).") var serveNodes = 3
    @Option(help: "Partitions of the interactions topic.") var partitions = 12
    @Option(help: "Member timeout, seconds (cluster.memberTimeoutSeconds).") var memberTimeout = 6.0
    @Option(help: "Simulated requests per user in the log (more: longer rebuilds).") var requests = 10

    func run() async throws {
        guard serveNodes >= 2 else { throw ValidationError("--serve-nodes must be at least 2") }
        let (logger, kafka, suffix) = clusterBenchStart(brokers: brokers)
        // The load client asks for users 0..<1000.
        let (events, catalog) = try simulatedTopics(brokers: brokers, kafka: kafka, prefix: "bench-serve-failover", suffix: suffix, users: 1000,
                                                    items: 1000, seed: 7, requests: requests, partitions: partitions, logger: logger)
        let common = ["ONEREC_KAFKA_BROKERS": brokers, "ONEREC_KAFKA_INTERACTIONS_TOPIC": events, "ONEREC_KAFKA_ITEMS_TOPIC": catalog,
                      "ONEREC_KAFKA_GROUP_ID": "bench-\(suffix)", "ONEREC_CLUSTER_MODELS_TOPIC": "bench-serve-failover-models-\(suffix)",
                      "ONEREC_CLUSTER_MEMBERS_TOPIC": "bench-serve-failover-members-\(suffix)",
                      "ONEREC_CLUSTER_MEMBER_TIMEOUT_SECONDS": "\(memberTimeout)", "ONEREC_CLUSTER_ROLE": "serve"]
        let basePort = 19_900 + Int.random(in: 0..<500)
        var serve: [BenchDaemon] = []
        for i in 0..<serveNodes {  // one after another
            let node = try BenchDaemon(preset: "tiny", beam: 16, port: basePort + i, environment: common.merging([
                "ONEREC_KAFKA_INSTANCE_ID": "bench-serve-\(i)-\(suffix)"]) { $1 })
            serve.append(node)
            while await node.status() == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let start = Date()
        while await !Self.settled(serve, on: serve[0]) {
            guard Date().timeIntervalSince(start) < 300 else { throw BenchmarkError("the serve nodes did not settle their partitions in 300 s") }
            try await Task.sleep(for: .milliseconds(100))
        }
        print(String(format: "%d serve nodes answer for %d partitions, rebuilt in %.1f s from the start of retention", serveNodes, partitions,
                     Date().timeIntervalSince(start)))

        var moves: [Double] = []
        for round in 1..<serveNodes {
            let victim = serve.removeLast()
            let owned = ((await victim.status())?["cluster"] as? [String: Any])?["ready"] as? [Int] ?? []
            let fallbacksBefore = await Self.fallbacks(serve)
            let window = memberTimeout + 15
            let killedAt = Date()
            kill(victim.process.processIdentifier, SIGKILL)
            victim.process.waitUntilExit()
            let clients = serve.map { $0.load(timeout: 5) }
            let load = Task { await clients.concurrentClosedLoops(seconds: window) }
            var moved: Double?
            while moved == nil && Date().timeIntervalSince(killedAt) < window {
                if await Self.settled(serve, on: serve[0]) { moved = Date().timeIntervalSince(killedAt) }
                try await Task.sleep(for: .milliseconds(50))
            }
            let (answered, failed) = await load.value
            guard let moved else { throw BenchmarkError("kill \(round): the partitions were not answered by their new owners within \(window) s") }
            moves.append(moved)
            let fallbacks = await Self.fallbacks(serve) - fallbacksBefore
            print(String(format: "kill %d: its %d partitions answered, rebuilt, by the others after %.2f s; in the %.0f s from the kill "
                         + "%d requests answered (%d with fallbacks), %d failed", round, owned.count, moved, window, answered, fallbacks, failed))
        }
        let mean = moves.reduce(0, +) / Double(moves.count)
        print(String(format: "partitions moved and rebuilt: mean %.2f s, max %.2f s over %d kills", mean, moves.max()!, moves.count))
        print(String(format: "peer: the member timeout %.1f s; ratio moved / member timeout = %.2f", memberTimeout, mean / memberTimeout))
    }

    /// Whether `nodes` are the live serve nodes of `observer`'s map and each partition is answered by its owner.
    static func settled(_ nodes: [BenchDaemon], on observer: BenchDaemon) async -> Bool {
        guard let data = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(observer.port)/v1/cluster")!).0,
              let map = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let owners = map["owners"] as? [[String: Any]], let members = map["nodes"] as? [[String: Any]] else { return false }
        return members.filter { $0["role"] as? String == "serve" }.count == nodes.count && !owners.isEmpty
            && owners.allSatisfy { $0["owner"] as? String == $0["answering"] as? String }
            && members.allSatisfy { ($0["owns"] as? [Int] ?? []).sorted() == ($0["ready"] as? [Int] ?? []).sorted() }
    }

    /// Fallback answers the nodes have given (`onerec_cluster_fallbacks_total`, every reason).
    static func fallbacks(_ nodes: [BenchDaemon]) async -> Int {
        var total = 0.0
        for node in nodes {
            guard let data = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(node.port)/metrics")!).0 else { continue }
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasPrefix("onerec_cluster_fallbacks_total") {
                total += Double(line.split(separator: " ").last ?? "") ?? 0
            }
        }
        return Int(total)
    }
}

extension Array where Element == LoadClient {
    /// One closed-loop client on each for `seconds`: requests answered and failed, over all.
    func concurrentClosedLoops(seconds: Double) async -> (answered: Int, failed: Int) {
        await withTaskGroup(of: (Int, Int).self) { group in
            for client in self { group.addTask { let r = await client.closedLoop(clients: 1, seconds: seconds); return (r.latencies.count, r.failed) } }
            return await group.reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
        }
    }
}
