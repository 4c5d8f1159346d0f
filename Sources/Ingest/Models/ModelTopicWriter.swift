import Engine
import Foundation
import Kafka
import Logging
import Store

/// Writes the models topic (see `ModelTopic`) for one leadership of the train node: packages as chunks
/// then manifest, promotions, checkpoints, the leader record, and tombstones for deleted versions, all
/// to partition 0 so they are read in that order, each stamped with the leadership's epoch. Every call
/// waits until the broker has acknowledged what it wrote.
public final class ModelTopicWriter: Sendable {
    public let topic: String
    public let epoch: Int64
    public let node: String
    private let producer: KafkaProducer

    public init(kafka: KafkaConfig, topic: String, epoch: Int64, node: String, logger: Logger) throws {
        (self.topic, self.epoch, self.node) = (topic, epoch, node)
        var config = kafka
        // One request in flight: a retried send cannot overtake the next, so chunks stay before their manifest.
        config.properties = ["max.in.flight.requests.per.connection": "1"].merging(kafka.properties) { $1 }
        producer = try KafkaProducer(config: config, logger: logger)
    }

    /// Creates the topic (one partition, compacted) unless it exists.
    public static func createTopic(_ topic: String, kafka: KafkaConfig, logger: Logger) throws {
        try KafkaAdmin(config: kafka, logger: logger).createTopic(topic, partitions: 1, configs: ["cleanup.policy": "compact"])
    }

    /// Announces this leadership and where its HTTP API answers; returns the record's offset (a reader
    /// past it has seen everything the previous leader wrote).
    public func sendLeader(url: String?, now: Date = Date()) throws -> Int64 {
        let record = LeaderRecord(epoch: epoch, node: node, at: now.timeIntervalSince1970, url: url)
        return try producer.sendAndWait(topic: topic, key: ModelTopic.leaderKey, value: Array(try JSONEncoder().encode(record)), partition: 0)
    }

    /// Sends a version; returns its manifest (how many chunks it took).
    @discardableResult
    public func send(_ package: ModelPackage, now: Date = Date()) throws -> ModelManifest {
        let bytes = package.model + package.codebook
        let version = package.info.version
        let chunks = try sendChunks(bytes) { ModelTopic.chunkKey(version: version, index: $0) }
        let manifest = ModelManifest(info: package.info, modelBytes: package.model.count, codebookBytes: package.codebook.count, chunks: chunks,
                                     crc32c: bytes.withUnsafeBytes { CRC32C.checksum($0) }, publishedAt: now.timeIntervalSince1970,
                                     epoch: epoch, node: node)
        try producer.send(topic: topic, key: ModelTopic.manifestKey(version: version), value: Array(try JSONEncoder().encode(manifest)), partition: 0)
        try producer.flush()
        return manifest
    }

    /// Sends the promoted stack.
    public func send(promoted stack: [UInt32], now: Date = Date()) throws {
        let promotion = Promotion(stack: stack, at: now.timeIntervalSince1970, epoch: epoch, node: node)
        try producer.send(topic: topic, key: ModelTopic.promotedKey, value: Array(try JSONEncoder().encode(promotion)), partition: 0)
        try producer.flush()
    }

    /// Sends the trainer's checkpoint files (generator, then reward model) of `step`.
    public func sendCheckpoint(generator: [UInt8], reward: [UInt8], step: Int, now: Date = Date()) throws {
        let bytes = generator + reward
        let chunks = try sendChunks(bytes) { ModelTopic.checkpointChunkKey(index: $0) }
        let manifest = CheckpointManifest(epoch: epoch, node: node, step: step, generatorBytes: generator.count, rewardBytes: reward.count,
                                          chunks: chunks, crc32c: bytes.withUnsafeBytes { CRC32C.checksum($0) }, at: now.timeIntervalSince1970)
        try producer.send(topic: topic, key: ModelTopic.checkpointManifestKey, value: Array(try JSONEncoder().encode(manifest)), partition: 0)
        try producer.flush()
    }

    /// Tombstones a deleted version's chunks and manifest, so compaction drops them.
    public func forget(version: UInt32, chunks: Int) throws {
        for i in 0..<chunks { try producer.sendTombstone(topic: topic, key: ModelTopic.chunkKey(version: version, index: i), partition: 0) }
        try producer.sendTombstone(topic: topic, key: ModelTopic.manifestKey(version: version), partition: 0)
        try producer.flush()
    }

    /// Queues `bytes` in `ModelTopic.chunkBytes` pieces under `key(i)`; returns how many.
    private func sendChunks(_ bytes: [UInt8], key: (Int) -> [UInt8]) throws -> Int {
        let chunks = (bytes.count + ModelTopic.chunkBytes - 1) / ModelTopic.chunkBytes
        for i in 0..<chunks {
            let slice = bytes[(i * ModelTopic.chunkBytes)..<min(bytes.count, (i + 1) * ModelTopic.chunkBytes)]
            try producer.send(topic: topic, key: key(i), value: Array(slice), partition: 0)
        }
        return chunks
    }
}
