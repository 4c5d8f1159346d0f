import ArgumentParser
import Foundation
import Glibc
import Ingest
import Kafka
import Logging

/// `onerec bench failover`: how long the cluster trains and publishes nothing when its leading train node
/// dies. `--train-nodes` train nodes and one serve node run as `onerec serve` processes on the broker; the
/// leader is killed with SIGKILL, one after another, until one train node is left. For each kill: the
/// seconds until a standby leads, and until the serve node serves a version the new leader published. The
/// peer is the lease timeout itself, the wait no failure detector can beat without risking two leaders.
struct BenchFailover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "failover",
                                                    abstract: "Seconds from the leading train node's kill -9 to a new leader and to its first served version.")
    @Option(help: "Kafka brokers host:port[,...].") var brokers: String
    @Option(help: "Train nodes (each kill leaves one fewer).") var trainNodes = 3
    @Option(help: "Lease timeout, seconds (cluster.leaseTimeoutSeconds).") var leaseTimeout = 6.0
    @Option(help: "Generator size: tiny, small, base.") var preset = "tiny"
    @Option(help: "Steps between the leader's versions.") var publishEvery = 200

    func run() async throws {
        guard trainNodes >= 2 else { throw ValidationError("--train-nodes must be at least 2") }
        let (logger, kafka, suffix) = clusterBenchStart(brokers: brokers)
        let (events, catalog) = try simulatedTopics(brokers: brokers, kafka: kafka, prefix: "bench-failover", suffix: suffix, users: 300, items: 400,
                                                    seed: 5, requests: 10, logger: logger)

        let common = ["ONEREC_KAFKA_BROKERS": brokers, "ONEREC_KAFKA_INTERACTIONS_TOPIC": events, "ONEREC_KAFKA_ITEMS_TOPIC": catalog,
                      "ONEREC_KAFKA_GROUP_ID": "bench-\(suffix)", "ONEREC_CLUSTER_MODELS_TOPIC": "bench-failover-models-\(suffix)",
                      "ONEREC_CLUSTER_LEASE_TOPIC": "bench-failover-lease-\(suffix)", "ONEREC_CLUSTER_LEASE_TIMEOUT_SECONDS": "\(leaseTimeout)",
                      "ONEREC_CLUSTER_CHECKPOINT_PUBLISH_SECONDS": "2", "ONEREC_TRAINER_CHECKPOINT_EVERY_STEPS": "\(publishEvery)",
                      "ONEREC_TRAINER_PUBLISH_EVERY_STEPS": "\(publishEvery)", "ONEREC_COMPUTE_THREADS": "1"]
        let basePort = 19_900 + Int.random(in: 0..<500)
        var train: [BenchDaemon] = []
        for i in 0..<trainNodes {  // one after another, the first one leading
            let node = try BenchDaemon(preset: preset, beam: 16, port: basePort + i, environment: common.merging([
                "ONEREC_CLUSTER_ROLE": "train", "ONEREC_KAFKA_INSTANCE_ID": "bench-train-\(i)-\(suffix)"]) { $1 })
            train.append(node)
            while await node.status() == nil { try await Task.sleep(for: .milliseconds(100)) }
            if i == 0 { while await Self.leading(node) != true { try await Task.sleep(for: .milliseconds(100)) } }
        }
        let serve = try BenchDaemon(preset: preset, beam: 16, port: basePort + trainNodes, environment: common.merging([
            "ONEREC_CLUSTER_ROLE": "serve", "ONEREC_KAFKA_INSTANCE_ID": "bench-serve-\(suffix)"]) { $1 })
        print("\(trainNodes) train nodes and a serve node running; lease timeout \(leaseTimeout) s, \(preset) generator")

        var toLeader: [Double] = [], toServed: [Double] = []
        for round in 1..<trainNodes {
            // Wait until the leader has published since the last failover and a standby keeps its checkpoint.
            let deadline = Date().addingTimeInterval(600)
            var leaderIndex: Int?
            while Date() < deadline {
                leaderIndex = nil
                for (i, node) in train.enumerated() where node.process.isRunning { if await Self.leading(node) == true { leaderIndex = i } }
                if leaderIndex != nil, await serve.learner().version != nil, await Self.standbysKeepACheckpoint(train, leader: leaderIndex!) { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            guard let leader = leaderIndex else { throw BenchmarkError("no train node leads") }
            let before = await serve.learner().version ?? 0
            let killedAt = Date()
            kill(train[leader].process.processIdentifier, SIGKILL)
            train[leader].process.waitUntilExit()
            var led: Double?
            while Date().timeIntervalSince(killedAt) < leaseTimeout + 120 {
                if led == nil {
                    for node in train where node.process.isRunning { if await Self.leading(node) == true { led = Date().timeIntervalSince(killedAt) } }
                }
                if led != nil, let version = await serve.learner().version, version > before {
                    toLeader.append(led!)
                    toServed.append(Date().timeIntervalSince(killedAt))
                    break
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            guard toServed.count == round else { throw BenchmarkError("kill \(round): no new leader's version reached the serve node") }
            print(String(format: "kill %d: a standby led after %.2f s, the serve node served its version after %.2f s", round, toLeader.last!, toServed.last!))
        }
        print(String(format: "failover to a new leader   : mean %.2f s, max %.2f s over %d kills", mean(toLeader), toLeader.max()!, toLeader.count))
        print(String(format: "failover to a served version: mean %.2f s, max %.2f s", mean(toServed), toServed.max()!))
        print(String(format: "peer: the lease timeout %.1f s; ratio new leader / lease timeout = %.2f", leaseTimeout, mean(toLeader) / leaseTimeout))
    }

    static func leading(_ node: BenchDaemon) async -> Bool? {
        ((await node.status())?["cluster"] as? [String: Any])?["leading"] as? Bool
    }

    /// Whether every live standby keeps a checkpoint of the leader.
    static func standbysKeepACheckpoint(_ train: [BenchDaemon], leader: Int) async -> Bool {
        for (i, node) in train.enumerated() where i != leader && node.process.isRunning {
            let following = ((await node.status())?["cluster"] as? [String: Any])?["following"] as? [String: Any]
            if following?["checkpointStep"] as? Int == nil { return false }
        }
        return true
    }
}

private func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }
