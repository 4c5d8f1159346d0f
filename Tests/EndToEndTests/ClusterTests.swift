import Foundation
import Glibc
import Synchronization
import Kafka
import Logging
import TestSupport
import Testing

/// `onerec serve` as a cluster: one train node and serve nodes, real processes on the real broker. The
/// serve nodes serve the versions the train node publishes, refuse to change them, and a serve node
/// started late serves the train node's current version from the models topic alone.
@Suite(.serialized) struct ClusterTests {
    static let token = "cluster-test-token-0123456789"

    @Test func serveNodesServeWhatTheTrainNodePublishes() async throws {
        // A broker of its own: the versions these nodes publish would slow the shared broker, which
        // rewrites its whole data file after every write, for every other test.
        let own = try PrivateBroker()
        let broker = own.address
        let onerec = builtExecutable("onerec")
        let suffix = UUID().uuidString.prefix(8)
        let topics = try Self.simulatedTopics("cluster", suffix: suffix, broker: broker, seed: 5)

        let common = [
            "ONEREC_KAFKA_BROKERS": broker, "ONEREC_KAFKA_INTERACTIONS_TOPIC": topics.0, "ONEREC_KAFKA_ITEMS_TOPIC": topics.1,
            "ONEREC_KAFKA_GROUP_ID": "cluster-\(suffix)", "ONEREC_CLUSTER_MODELS_TOPIC": "cluster-models-\(suffix)", "ONEREC_ADMIN_TOKEN": Self.token,
        ]
        func node(_ role: String, _ name: String, _ extra: [String: String] = [:]) throws -> OneRecProcess {
            try OneRecProcess(environment: common.merging(["ONEREC_CLUSTER_ROLE": role, "ONEREC_KAFKA_INSTANCE_ID": "\(name)-\(suffix)"]) { $1 }
                .merging(extra) { $1 })
        }
        // A version about every few seconds: the serve nodes have time to catch up between them.
        let train = try node("train", "train", ["ONEREC_TRAINER_PRESET": "tiny", "ONEREC_TRAINER_PUBLISH_EVERY_STEPS": "200",
                                                "ONEREC_TRAINER_ITEM_IDS": "0", "ONEREC_COMPUTE_THREADS": "1"])
        try #require(train.waitUntilHealthy(), "the train node did not start: \(Self.log(train))")
        let serve = try node("serve", "serve-a")
        try #require(serve.waitUntilHealthy(), "the serve node did not start: \(Self.log(serve))")

        // The serve node serves the version the train node serves, once it has one.
        var matched: Int?
        let deadline = Date().addingTimeInterval(180)
        while matched == nil && Date() < deadline {
            let (t, s) = (Self.serving(train), Self.serving(serve))
            if let t, t >= 2, s == t { matched = t }
            try await Task.sleep(for: .milliseconds(100))
        }
        try #require(matched != nil, "the serve node never served the train node's version: train \(Self.log(train)) serve \(Self.log(serve))")
        // Freshness on the serve node: event → stored, and publication → serving.
        let metrics = try #require(serve.get("/metrics")).1
        for name in ["onerec_ingest_event_to_stored_seconds_count", "onerec_cluster_model_publish_to_serving_seconds_count"] {
            let count = metrics.split(separator: "\n").first { $0.hasPrefix(name) }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
            #expect(count > 0, "\(name) is \(count)")
        }
        let page = try #require(serve.get("/")).1
        #expect(page.contains("event → stored: p50") && page.contains("serve node · following"), "\(page.prefix(2000))")
        #expect((Self.status(serve)?["ingestFreshness"] as? [String: Any])?["p99"] is Double)
        let answer = try #require(serve.get("/v1/users/3/recommendations"))
        #expect(answer.0 == 200 && answer.1.contains(#""source":"generator""#), "\(answer.1)")

        // A promotion asked of the serve node is the leader's to make: forwarded one hop, answered by the leader.
        let stack = try #require(Self.status(train)?["promoted"] as? [Int])
        let older = try #require(stack.dropLast().last)
        let promoted = try runToCompletion(onerec, ["promote", "\(older)", "--url", "http://127.0.0.1:\(serve.port)", "--token", Self.token])
        #expect(promoted.status == 0 && promoted.stdout.contains("serving version \(older) "), "\(promoted.stdout)\(promoted.stderr)")
        // A request forwarded once goes no further; canaries are refused in a cluster.
        let hop = try #require(httpGet(port: serve.port, path: "/v1/admin/rollback", method: "POST",
                                       headers: ["Authorization": "Bearer \(Self.token)", "X-Onerec-Forwarded": "1"]))
        #expect(hop.0 == 409 && hop.1.contains("serve node") && hop.1.contains("no further"), "\(hop.1)")
        let canary = try #require(httpGet(port: serve.port, path: "/v1/admin/canary/1", method: "POST", headers: ["Authorization": "Bearer \(Self.token)"]))
        #expect(canary.0 == 409 && canary.1.contains("standalone"), "\(canary.1)")
        let status = try runToCompletion(onerec, ["status", "--url", "http://127.0.0.1:\(serve.port)", "--token", Self.token])
        #expect(status.stdout.contains("cluster     : serve node; following cluster-models-\(suffix)"), "\(status.stdout)")
        let trainStatus = try runToCompletion(onerec, ["status", "--url", "http://127.0.0.1:\(train.port)", "--token", Self.token])
        #expect(trainStatus.stdout.contains("cluster     : leading train node (epoch "), "\(trainStatus.stdout)")

        // A serve node started now serves at least the version the train node serves at its start.
        let current = try #require(Self.serving(train))
        let start = Date()
        let late = try node("serve", "serve-b")
        try #require(late.waitUntilHealthy(), "the late serve node did not start: \(Self.log(late))")
        while (Self.serving(late) ?? 0) < current && Date().timeIntervalSince(start) < 180 { try await Task.sleep(for: .milliseconds(50)) }
        let seconds = Date().timeIntervalSince(start)
        #expect((Self.serving(late) ?? 0) >= current, "the late node serves \(String(describing: Self.serving(late))), not \(current): \(Self.log(late))")
        print(String(format: "late serve node: serving version %d or newer %.2f s after its start", current, seconds))

        for daemon in [late, serve, train] { #expect(daemon.stop()?.status == 0, "\(Self.log(daemon))") }
    }

    /// `kill -9` of the leading train node: the standby takes the lease within the lease timeout, resumes
    /// from the leader's last published checkpoint, and its versions reach the serve node, numbered on
    /// from the old leader's. Then a leader stalled past the lease timeout is replaced and, running again,
    /// stops itself. On the models topic no epoch has two writers.
    @Test func aStandbyTakesOverFromAKilledOrStalledLeader() async throws {
        // A broker of its own: the versions these nodes publish would slow the shared broker, which
        // rewrites its whole data file after every write, for every other test.
        let own = try PrivateBroker()
        let broker = own.address
        let suffix = UUID().uuidString.prefix(8)
        let events = try Self.simulatedTopics("failover", suffix: suffix, broker: broker, seed: 6)
        let topics = (events.0, events.1, "failover-models-\(suffix)")
        var logger = Logger(label: "cluster-test")
        logger.logLevel = .warning
        let admin = try KafkaAdmin(config: KafkaConfig(brokers: [broker]), logger: logger)
        let leaseTimeout = 6.0
        let common = [
            "ONEREC_KAFKA_BROKERS": broker, "ONEREC_KAFKA_INTERACTIONS_TOPIC": topics.0, "ONEREC_KAFKA_ITEMS_TOPIC": topics.1,
            "ONEREC_KAFKA_GROUP_ID": "failover-\(suffix)", "ONEREC_CLUSTER_MODELS_TOPIC": topics.2, "ONEREC_ADMIN_TOKEN": Self.token,
            "ONEREC_CLUSTER_LEASE_TOPIC": "failover-lease-\(suffix)", "ONEREC_CLUSTER_LEASE_TIMEOUT_SECONDS": "\(leaseTimeout)",
            "ONEREC_CLUSTER_CHECKPOINT_PUBLISH_SECONDS": "4", "ONEREC_TRAINER_PRESET": "tiny", "ONEREC_TRAINER_PUBLISH_EVERY_STEPS": "200",
            "ONEREC_TRAINER_CHECKPOINT_EVERY_STEPS": "100", "ONEREC_TRAINER_ITEM_IDS": "0", "ONEREC_COMPUTE_THREADS": "1",
        ]
        func node(_ role: String, _ name: String) throws -> OneRecProcess {
            try OneRecProcess(environment: common.merging(["ONEREC_CLUSTER_ROLE": role, "ONEREC_KAFKA_INSTANCE_ID": "\(name)-\(suffix)"]) { $1 })
        }
        // Who writes the models topic in which epoch, read as it is written.
        try admin.createTopic(topics.2, partitions: 1, configs: ["cleanup.policy": "compact"])
        var config = KafkaConsumer.Config(kafka: KafkaConfig(brokers: [broker]), groupID: "failover-audit-\(suffix)", topics: [topics.2])
        config.groupInstanceID = "audit-\(suffix)"
        let audit = try KafkaConsumer(config: config, logger: logger)
        let seen = Mutex<[Int: Set<String>]>([:])
        let auditing = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await audit.run() }
                for try await batch in audit.batches {
                    for m in batch.messages {
                        if let json = try? JSONSerialization.jsonObject(with: Data(m.value)) as? [String: Any], let epoch = json["epoch"] as? Int,
                           let node = json["node"] as? String {
                            seen.withLock { _ = $0[epoch, default: []].insert(node) }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        defer { audit.stop() }
        let first = try node("train", "train-a")
        try #require(first.waitUntilHealthy(), "the first train node did not start: \(Self.log(first))")
        let deadline = Date().addingTimeInterval(120)
        while Self.cluster(first)?["leading"] as? Bool != true && Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        try #require(Self.cluster(first)?["leading"] as? Bool == true, "the first train node never led: \(Self.log(first))")
        let standby = try node("train", "train-b")
        try #require(standby.waitUntilHealthy(), "the standby did not start: \(Self.log(standby))")
        let serve = try node("serve", "serve")
        try #require(serve.waitUntilHealthy(), "the serve node did not start: \(Self.log(serve))")

        // The standby follows: it keeps the leader's checkpoint; the serve node serves the leader's versions.
        var kept: Int?
        while Date() < deadline {
            kept = (Self.cluster(standby)?["following"] as? [String: Any])?["checkpointStep"] as? Int
            if let kept, kept >= 200, (Self.serving(serve) ?? 0) >= 2 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        try #require(kept != nil && (Self.serving(serve) ?? 0) >= 2, "no checkpoint kept or nothing served: \(Self.log(standby))")
        #expect(Self.cluster(standby)?["leading"] as? Bool == false)
        let refused = try #require(httpGet(port: standby.port, path: "/v1/admin/align", method: "POST",
                                           headers: ["Authorization": "Bearer \(Self.token)", "X-Onerec-Forwarded": "1"]))
        #expect(refused.0 == 409 && refused.1.contains("standby") && refused.1.contains("train-a-\(suffix)"), "\(refused.1)")

        // kill -9 of the leader.
        let before = try #require(Self.serving(serve))
        let killedAt = Date()
        _ = first.stop(SIGKILL)
        while Self.cluster(standby)?["leading"] as? Bool != true && Date().timeIntervalSince(killedAt) < leaseTimeout + 30 {
            try await Task.sleep(for: .milliseconds(50))
        }
        let tookOver = Date().timeIntervalSince(killedAt)
        try #require(Self.cluster(standby)?["leading"] as? Bool == true, "the standby never led: \(Self.log(standby))")
        var served: [String: Any]?
        while Date().timeIntervalSince(killedAt) < leaseTimeout + 120 {
            if let s = Self.status(serve)?["serving"] as? [String: Any], let v = s["version"] as? Int, v > before { served = s; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let newVersion = Date().timeIntervalSince(killedAt)
        let info = try #require(served, "no version of the new leader reached the serve node: \(Self.log(standby))")
        // Resumed from the kept checkpoint, not from scratch.
        #expect((info["steps"] as? Int ?? 0) > kept!, "\(info)")
        print(String(format: "failover: the standby led %.1f s after the leader's kill -9 (lease timeout %.0f s); its first version served %.1f s after",
                     tookOver, leaseTimeout, newVersion))

        // A leader that stalls (SIGSTOP) past the lease timeout is replaced by a new standby; when it runs
        // again it reads the new leader's claim and stops itself instead of publishing beside it.
        let third = try node("train", "train-c")
        try #require(third.waitUntilHealthy(), "the third train node did not start: \(Self.log(third))")
        while (Self.cluster(third)?["following"] as? [String: Any])?["checkpointStep"] as? Int == nil && Date().timeIntervalSince(killedAt) < 300 {
            try await Task.sleep(for: .milliseconds(100))
        }
        kill(standby.process.processIdentifier, SIGSTOP)
        let stalledAt = Date()
        while Self.cluster(third)?["leading"] as? Bool != true && Date().timeIntervalSince(stalledAt) < leaseTimeout + 30 {
            try await Task.sleep(for: .milliseconds(50))
        }
        let replaced = Date().timeIntervalSince(stalledAt)
        kill(standby.process.processIdentifier, SIGCONT)
        try #require(Self.cluster(third)?["leading"] as? Bool == true, "the stalled leader was not replaced: \(Self.log(third))")
        let continuedAt = Date()
        while standby.process.isRunning && Date().timeIntervalSince(continuedAt) < 60 { try await Task.sleep(for: .milliseconds(50)) }
        let stoppedItself = Date().timeIntervalSince(continuedAt)
        #expect(!standby.process.isRunning && standby.process.terminationStatus != 0, "the deposed leader went on: \(Self.log(standby))")
        #expect(standby.stderr.contains("trainer lease lost"), "\(standby.stderr.suffix(2000))")
        print(String(format: "a leader stalled with SIGSTOP was replaced after %.1f s; run again, it stopped itself %.1f s later", replaced, stoppedItself))

        // The models topic, as read while it was written (compaction keeps only each key's newest record):
        // every epoch written by one node only.
        audit.stop()
        _ = try? await auditing.value
        let writers = seen.withLock { $0 }
        #expect(writers.count >= 3 && writers.values.allSatisfy { $0.count == 1 }, "\(writers)")
        for daemon in [serve, third] { #expect(daemon.stop()?.status == 0, "\(Self.log(daemon))") }
    }

    /// Fresh interactions (two partitions) and items topics holding a 300-user simulator log.
    static func simulatedTopics(_ prefix: String, suffix: Substring, broker: String, seed: Int) throws -> (String, String) {
        let topics = ("\(prefix)-interactions-\(suffix)", "\(prefix)-items-\(suffix)")
        var logger = Logger(label: "cluster-test")
        logger.logLevel = .warning
        let admin = try KafkaAdmin(config: KafkaConfig(brokers: [broker]), logger: logger)
        try admin.createTopic(topics.0, partitions: 2)
        try admin.createTopic(topics.1, partitions: 1)
        let produced = try runToCompletion(builtExecutable("onerec"), ["simulate", "log", "--brokers", broker, "--topic", topics.0, "--items-topic", topics.1,
                                                                       "--users", "300", "--items", "400", "--requests", "10", "--seed", "\(seed)"])
        guard produced.status == 0 else { throw SetupFailed(what: "simulate log: \(produced.stderr)") }
        return topics
    }

    /// A node's admin status, if it answers.
    static func status(_ node: OneRecProcess) -> [String: Any]? {
        guard let answer = httpGet(port: node.port, path: "/v1/admin/status", headers: ["Authorization": "Bearer \(token)"]), answer.0 == 200 else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(answer.1.utf8)) as? [String: Any]
    }

    static func cluster(_ node: OneRecProcess) -> [String: Any]? { status(node)?["cluster"] as? [String: Any] }

    /// The version a node serves, if any.
    static func serving(_ node: OneRecProcess) -> Int? { (status(node)?["serving"] as? [String: Any])?["version"] as? Int }

    /// The end of a node's log, for failure messages (stops it first: its stderr ends when it exits).
    static func log(_ node: OneRecProcess) -> String {
        _ = node.stop()
        return String(node.stderr.suffix(3000))
    }
}

struct SetupFailed: Error, CustomStringConvertible {
    let what: String
    var description: String { what }
}
