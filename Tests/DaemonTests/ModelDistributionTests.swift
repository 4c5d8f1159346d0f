import Foundation
import Ingest
import Kafka
import Logging
import ModelSupport
@testable import OneRecDaemon
import SemanticIDs
import Serving
import Store
import TestSupport
import Testing

/// A train node's model store broadcast over the real broker's models topic, followed by serve nodes'
/// stores: publications, promotions and rollbacks arrive; damaged records are refused without stopping
/// anything; a node started late catches up from the topic alone.
@Suite(.serialized) struct ModelDistributionTests {
    /// On a thread of its own: the suite's other tests may hold every thread of the shared pool for minutes.
    @Test func serveNodesFollowTheTrainNodeAndALateNodeCatchesUp() async throws {
        let executor = ThreadExecutor(name: "model-distribution-test")
        try await withTaskExecutorPreference(executor) { try await followTheTrainNode(on: executor) }
        withExtendedLifetime(executor) {}
    }

    func followTheTrainNode(on executor: ThreadExecutor) async throws {
        // A broker of its own: in the full suite the shared one is busy with every other Kafka test.
        let own = try PrivateBroker()
        let broker = own.address
        let suffix = UUID().uuidString.prefix(8)
        let (kafka, topic) = (KafkaConfig(brokers: [broker]), "models-\(suffix)")
        var logger = Logger(label: "distribution-test")
        logger.logLevel = .warning
        try ModelTopicWriter.createTopic(topic, kafka: kafka, logger: logger)
        let (train, serve, late) = (try ModelFixture(), try ModelFixture(), try ModelFixture())
        defer { [train, serve, late].forEach { $0.dir.cleanup() } }
        func follower(_ node: ModelFixture, _ name: String) throws -> ModelFollower {
            try ModelFollower(registry: node.registry, kafka: kafka, topic: topic, node: "\(name)-\(suffix)", logger: logger)
        }
        // Generous: in the full suite the machine and the shared broker are busy with every other test.
        var followers: [ModelFollower] = []
        var broadcasts: [ModelBroadcast] = []
        func waitUntil(_ what: String, timeout: Double = 120, _ condition: () throws -> Bool) async throws -> Double {
            let start = Date()
            while try !condition() {
                guard Date().timeIntervalSince(start) < timeout else {
                    throw WaitTimedOut(what: what + "; followers: " + followers.map { "\($0.progress)" }.joined(separator: ", ")
                                       + "; broadcast: " + broadcasts.map { "\($0.status)" }.joined(separator: ", "))
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            return Date().timeIntervalSince(start)
        }

        try train.publish(seed: 1)
        try train.publish(seed: 2)
        let broadcast = ModelBroadcast(registry: train.registry, writer: try ModelTopicWriter(kafka: kafka, topic: topic, epoch: 1, node: "train", logger: logger),
                                       checkpoints: nil, logger: logger)
        let following = try follower(serve, "a")
        (followers, broadcasts) = ([following], [broadcast])
        let tasks = [Task(executorPreference: executor) { try await broadcast.run() }, Task(executorPreference: executor) { try await following.run() }]
        defer { tasks.forEach { $0.cancel() } }

        _ = try await waitUntil("the serve node serves version 2") { serve.registry.snapshot?.version == 2 }
        #expect(try serve.registry.promotedStack() == [1, 2])
        try train.registry.promote(version: 1)
        _ = try await waitUntil("the promotion of version 1 arrives") { serve.registry.snapshot?.version == 1 }
        try train.registry.rollback()
        _ = try await waitUntil("the rollback arrives") { serve.registry.snapshot?.version == 2 }
        // Published, not promoted: received, not served.
        try train.publish(seed: 3, promote: false)
        _ = try await waitUntil("version 3 is received") { try serve.registry.versions().contains { $0.version == 3 } }
        #expect(serve.registry.snapshot?.version == 2)

        // Records no train node wrote: a foreign key, and a version whose chunk does not match its manifest.
        let producer = try KafkaProducer(config: kafka, logger: logger)
        try producer.send(topic: topic, key: Array("junk".utf8), value: [1, 2, 3], partition: 0)
        let exported = try train.registry.exported(version: 3)
        var forged = exported.info
        forged.version = 99
        try producer.send(topic: topic, key: ModelTopic.chunkKey(version: 99, index: 0), value: exported.file + exported.codebook.encoded(), partition: 0)
        let manifest = ModelManifest(info: forged, modelBytes: exported.file.count, codebookBytes: exported.codebook.encoded().count, chunks: 1,
                                     crc32c: 12345, publishedAt: 0, epoch: 1, node: "forger")
        try producer.send(topic: topic, key: ModelTopic.manifestKey(version: 99), value: Array(try JSONEncoder().encode(manifest)), partition: 0)
        try producer.send(topic: topic, key: ModelTopic.promotedKey, value: Array(try JSONEncoder().encode(Promotion(stack: [99], at: 0, epoch: 1, node: "forger"))), partition: 0)
        try producer.flush()

        // Then the train node goes on: four more versions, the oldest pruned (and tombstoned on the topic).
        for seed in 4...7 { try train.publish(seed: UInt64(seed)) }
        _ = try await waitUntil("the serve node serves version 7") { serve.registry.snapshot?.version == 7 }
        #expect(try serve.registry.versions().allSatisfy { $0.version != 99 })
        #expect(following.status.caughtUp)
        #expect(broadcast.status.failure == nil)
        #expect(broadcast.status.versionsOnTopic == (try train.registry.versionsOnDisk()))

        // A node started now reads the whole topic and serves what the train node serves.
        let lateFollowing = try follower(late, "late")
        followers.append(lateFollowing)
        let lateTask = Task(executorPreference: executor) { try await lateFollowing.run() }
        defer { lateTask.cancel() }
        let caughtUp = try await waitUntil("the late node serves version 7") { late.registry.snapshot?.version == 7 }
        #expect(try late.registry.promotedStack() == (try train.registry.promotedStack()))
        print("late serve node serving the train node's version after \(String(format: "%.2f", caughtUp)) s (\(lateFollowing.status.recordsRead) records read)")

        // Another node takes the lease (epoch 2): what the deposed broadcaster publishes after its leader
        // record is ignored everywhere; the new leader's records are served.
        let successor = try ModelTopicWriter(kafka: kafka, topic: topic, epoch: 2, node: "successor", logger: logger)
        let marker = try successor.sendLeader(url: "http://127.0.0.1:1")
        _ = try await waitUntil("the serve node reads the new leader's record") { following.progress.offset >= marker }
        #expect(following.status.leader == "successor" && following.status.epoch == 2)
        try train.publish(seed: 8)  // the deposed broadcaster sends version 8 and its promotion, in epoch 1
        _ = try await waitUntil("the deposed leader's records are fenced") { following.progress.fenced >= 2 }
        #expect(serve.registry.snapshot?.version == 7)
        #expect(try !serve.registry.versions().contains { $0.version == 8 })
        let eight = try train.registry.exported(version: 8)
        try successor.send(ModelPackage(info: eight.info, model: eight.file, codebook: eight.codebook.encoded()))
        try successor.send(promoted: try train.registry.promotedStack())
        _ = try await waitUntil("the new leader's version 8 serves") { serve.registry.snapshot?.version == 8 && late.registry.snapshot?.version == 8 }
    }
}

struct WaitTimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting until \(what)" }
}
