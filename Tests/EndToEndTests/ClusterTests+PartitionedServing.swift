import Foundation
import Glibc
import Kafka
import Logging
import Synchronization
import TestSupport
import Testing

/// Three serve nodes and two train nodes, real processes on a broker of their own. The serve nodes share
/// the interactions topic's six partitions through the members topic; any node asked for any user
/// answers from that user's history (forwarded one hop to the user's node). `kill -9` of a serve node:
/// its partitions move to the others, which rebuild them from the topic; meanwhile every request is
/// answered (popular items marked fallback while no node knows the user), and afterwards every event is
/// stored by exactly the partitions' owners. Part of `ClusterTests`, so that no two of its multi-daemon
/// scenarios share the machine at once.
extension ClusterTests {
    @Test func anyNodeAnswersForEveryUserAndAKilledServeNodesUsersMove() async throws {
        let own = try PrivateBroker()
        let broker = own.address
        let suffix = UUID().uuidString.prefix(8)
        let (events, items) = ("parts-interactions-\(suffix)", "parts-items-\(suffix)")
        var logger = Logger(label: "partitions-test")
        logger.logLevel = .warning
        let kafka = KafkaConfig(brokers: [broker])
        let admin = try KafkaAdmin(config: kafka, logger: logger)
        try admin.createTopic(events, partitions: 6)
        try admin.createTopic(items, partitions: 1)
        let memberTimeout = 6.0
        let common = [
            "ONEREC_KAFKA_BROKERS": broker, "ONEREC_KAFKA_INTERACTIONS_TOPIC": events, "ONEREC_KAFKA_ITEMS_TOPIC": items,
            "ONEREC_KAFKA_GROUP_ID": "parts-\(suffix)", "ONEREC_CLUSTER_MODELS_TOPIC": "parts-models-\(suffix)",
            "ONEREC_CLUSTER_MEMBERS_TOPIC": "parts-members-\(suffix)", "ONEREC_CLUSTER_LEASE_TOPIC": "parts-lease-\(suffix)",
            "ONEREC_CLUSTER_MEMBER_TIMEOUT_SECONDS": "\(memberTimeout)", "ONEREC_ADMIN_TOKEN": Self.token,
            "ONEREC_TRAINER_PRESET": "tiny", "ONEREC_TRAINER_PUBLISH_EVERY_STEPS": "200", "ONEREC_TRAINER_ITEM_IDS": "0",
            "ONEREC_COMPUTE_THREADS": "1", "ONEREC_CLUSTER_CHECKPOINT_PUBLISH_SECONDS": "30",
        ]
        func node(_ role: String, _ name: String) throws -> OneRecProcess {
            let node = try OneRecProcess(environment: common.merging(["ONEREC_CLUSTER_ROLE": role, "ONEREC_KAFKA_INSTANCE_ID": "\(name)-\(suffix)"]) { $1 })
            try #require(node.waitUntilHealthy(), "\(name) did not start: \(Self.log(node))")
            return node
        }
        // Serve nodes first, one after another, and their partitions settled before any event: each then
        // stores only its own partitions' events.
        let serve = try ["serve-a", "serve-b", "serve-c"].map { try node("serve", $0) }
        try await waitFor(timeout: .seconds(60), "three serve nodes with two ready partitions each") {
            let map = self.map(serve[0])
            let nodes = (map?["nodes"] as? [[String: Any]] ?? []).filter { $0["role"] as? String == "serve" }
            return nodes.count == 3 && nodes.allSatisfy { ($0["ready"] as? [Int])?.count == 2 && ($0["owns"] as? [Int])?.count == 2 }
        }
        let train = try ["train-a", "train-b"].map { try node("train", $0) }
        let everyNode = serve + train

        // 300 users' sessions from the simulator; the test reads them back to know each user's history.
        let produced = try runToCompletion(builtExecutable("onerec"), ["simulate", "log", "--brokers", broker, "--topic", events, "--items-topic", items,
                                                                       "--users", "300", "--items", "400", "--requests", "10", "--seed", "11"])
        try #require(produced.status == 0, "\(produced.stderr)")
        let log = try await readInteractions(kafka, topic: events, logger: logger)
        let total = log.perPartition.values.reduce(0, +)
        try #require(total > 1000 && log.perPartition.count == 6, "\(log.perPartition)")

        // Every partition stored up to its end by its owner; the serve nodes' interactions sum to what was produced.
        try await waitFor(timeout: .seconds(120), "every partition stored by its owner") { self.storedByOwners(serve) == log.perPartition }
        let stored = serve.compactMap { Self.status($0)?["interactions"] as? Int }
        #expect(stored.count == 3 && stored.reduce(0, +) == total, "stored \(stored), produced \(total)")
        try await waitFor(timeout: .seconds(240), "a version served by every serve node") { serve.allSatisfy { (Self.serving($0) ?? 0) >= 1 } }

        // Users asked of random nodes: answered from the user's own history, whichever node was asked.
        var random = SystemRandomNumberGenerator()
        let users = Array(log.seen.keys)
        var sources: [String: Int] = [:]
        for _ in 0..<150 {
            let (user, asked) = (users.randomElement(using: &random)!, everyNode.randomElement(using: &random)!)
            let answer = try #require(recommend(user, at: asked))
            sources[answer.source, default: 0] += 1
            #expect(answer.items.allSatisfy { !log.seen[user]!.contains($0) }, "user \(user) was recommended an item of their history")
        }
        #expect(sources["fallback"] == nil && (sources["generator"] ?? 0) > 0, "\(sources)")
        let status = try runToCompletion(builtExecutable("onerec"), ["status", "--url", "http://127.0.0.1:\(train[0].port)", "--token", Self.token])
        #expect(status.stdout.contains("serve serve-a-\(suffix) at http://") && status.stdout.contains("owns ["), "\(status.stdout)")

        // kill -9 of a serve node while users keep asking the other nodes.
        let killed = serve[2]
        let killedPartitions = Set((Self.cluster(killed)?["ready"] as? [Int] ?? []).map(Int32.init))
        let asking = Mutex((answered: 0, failed: [String](), fallbacks: 0))
        let alive = [serve[0], serve[1]] + train
        let killedAt = Date()
        _ = killed.stop(SIGKILL)
        // On a thread of its own: the requests block, and the test runner's shared threads are busy.
        let stopAsking = Atomic(false)
        let asked = DispatchSemaphore(value: 0)
        Thread {
            var random = SystemRandomNumberGenerator()
            while !stopAsking.load(ordering: .relaxed) {
                let user = users.randomElement(using: &random)!
                let answer = self.recommend(user, at: alive.randomElement(using: &random)!)
                asking.withLock { a in
                    if let answer { a.answered += 1; if answer.source == "fallback" { a.fallbacks += 1 } } else { a.failed.append("user \(user)") }
                }
                usleep(20_000)
            }
            asked.signal()
        }.start()
        try await waitFor(timeout: .seconds(120), "the killed node's partitions answered by their new owners") {
            let owners = self.map(serve[0])?["owners"] as? [[String: Any]] ?? []
            return owners.count == 6 && owners.allSatisfy { $0["owner"] as? String == $0["answering"] as? String && ($0["owner"] as? String)?.hasPrefix("serve-c") == false }
                && self.storedByOwners([serve[0], serve[1]]) == log.perPartition
        }
        let moved = Date().timeIntervalSince(killedAt)
        stopAsking.store(true, ordering: .relaxed)
        asked.wait()
        let during = asking.withLock { $0 }
        #expect(during.failed.isEmpty && during.answered > 0, "\(during.failed.count) of \(during.answered + during.failed.count) requests failed")

        // The killed node's users are answered from their history again, by the nodes that took them over.
        let movedUsers = users.filter { killedPartitions.contains(KeyPartitioner.crc32.partition(of: Array("\($0)".utf8), partitions: 6)) }
        try #require(!movedUsers.isEmpty)
        for user in movedUsers.prefix(40) {
            let answer = try #require(recommend(user, at: alive.randomElement(using: &random)!))
            #expect(answer.source != "fallback" && answer.items.allSatisfy { !log.seen[user]!.contains($0) }, "user \(user): \(answer)")
        }
        print(String(format: "serve node killed (member timeout %.0f s): its %d partitions answered by their new owners, rebuilt, after %.1f s; "
                     + "%d requests answered meanwhile, %d of them fallbacks, none failed", memberTimeout, killedPartitions.count, moved,
                     during.answered, during.fallbacks))
        for daemon in alive { #expect(daemon.stop()?.status == 0, "\(Self.log(daemon))") }
    }

    /// Polls `condition` every 100 ms; records a failure naming `what` if it does not hold within `timeout`.
    func waitFor(timeout: Duration, _ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        try #require(try await condition(), "timed out after \(timeout) waiting for \(what)")
    }

    /// `GET /v1/cluster` of a node.
    func map(_ node: OneRecProcess) -> [String: Any]? {
        guard let answer = httpGet(port: node.port, path: "/v1/cluster"), answer.0 == 200 else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(answer.1.utf8)) as? [String: Any]
    }

    /// Each partition's next stored offset at the node answering for it (as every node's map says).
    func storedByOwners(_ nodes: [OneRecProcess]) -> [Int32: Int64] {
        guard let owners = map(nodes[0])?["owners"] as? [[String: Any]] else { return [:] }
        var stored: [Int32: Int64] = [:]
        let offsets = Dictionary(uniqueKeysWithValues: nodes.compactMap { node -> (String, [String: Any])? in
            guard let c = Self.cluster(node), let name = (map(node)?["node"] as? String) else { return nil }
            return (name, c)
        })
        for o in owners {
            guard let p = o["partition"] as? Int, let owner = o["answering"] as? String,
                  let at = (offsets[owner]?["storedOffsets"] as? [String: Any])?["\(p)"] as? Int else { continue }
            stored[Int32(p)] = Int64(at)
        }
        return stored
    }

    struct Answer: CustomStringConvertible {
        let source: String
        let items: [UInt64]
        var description: String { "\(source) \(items)" }
    }

    /// Five recommendations for `user` from `node`; nil if the request failed.
    func recommend(_ user: UInt64, at node: OneRecProcess) -> Answer? {
        guard let answer = httpGet(port: node.port, path: "/v1/users/\(user)/recommendations"), answer.0 == 200,
              let json = try? JSONSerialization.jsonObject(with: Data(answer.1.utf8)) as? [String: Any],
              let source = json["source"] as? String, let items = json["items"] as? [Int] else { return nil }
        return Answer(source: source, items: items.map(UInt64.init))
    }

    /// Every interaction on the topic: each user's items, and each partition's message count.
    func readInteractions(_ kafka: KafkaConfig, topic: String, logger: Logger) async throws -> (seen: [UInt64: Set<UInt64>], perPartition: [Int32: Int64]) {
        var config = KafkaConsumer.Config(kafka: kafka, groupID: "reader-\(topic)", topics: [topic])
        config.manualAssignment = true
        let consumer = try KafkaConsumer(config: config, logger: logger)
        let partitions = Set((0..<6).map { TopicPartition(topic: topic, partition: Int32($0)) })
        consumer.assign(partitions)
        let run = Task { try await consumer.run() }
        var seen: [UInt64: Set<UInt64>] = [:]
        var counts: [Int32: Int64] = [:]
        let deadline = Date().addingTimeInterval(300)
        for try await batch in consumer.batches {
            for m in batch.messages {
                counts[m.partition, default: 0] += 1
                if let e = try? JSONSerialization.jsonObject(with: Data(m.value)) as? [String: Any], let user = e["user_id"] as? Int, let item = e["item_id"] as? Int {
                    seen[UInt64(user), default: []].insert(UInt64(item))
                }
            }
            if Set(consumer.endsReached.keys) == partitions && consumer.endsReached.allSatisfy({ counts[$0.key.partition, default: 0] == $0.value }) { break }
            if Date() > deadline { break }
        }
        consumer.stop()
        try await run.value
        return (seen, counts)
    }
}
