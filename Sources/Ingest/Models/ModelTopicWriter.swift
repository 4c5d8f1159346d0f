import Engine
import Foundation
import Store
import Kafka
import Logging

/// Writes the models topic (see `ModelTopic`) from the train node: packages as chunks then manifest,
/// promotions, and tombstones for deleted versions, all to partition 0 so they are read in that order.
/// Every call waits until the broker has acknowledged what it wrote.
public final class ModelTopicWriter: Sendable {
    public let topic: String
    private let producer: KafkaProducer

    public init(kafka: KafkaConfig, topic: String, logger: Logger) throws {
        self.topic = topic
        var config = kafka
        // One request in flight: a retried send cannot overtake the next, so chunks stay before their manifest.
        config.properties = ["max.in.flight.requests.per.connection": "1"].merging(kafka.properties) { $1 }
        producer = try KafkaProducer(config: config, logger: logger)
    }

    /// Creates the topic (one partition, compacted) unless it exists.
    public static func createTopic(_ topic: String, kafka: KafkaConfig, logger: Logger) throws {
        try KafkaAdmin(config: kafka, logger: logger).createTopic(topic, partitions: 1, configs: ["cleanup.policy": "compact"])
    }

    /// Sends a version; returns its manifest (how many chunks it took).
    @discardableResult
    public func send(_ package: ModelPackage, now: Date = Date()) throws -> ModelManifest {
        let bytes = package.model + package.codebook
        let chunks = (bytes.count + ModelTopic.chunkBytes - 1) / ModelTopic.chunkBytes
        let version = package.info.version
        for i in 0..<chunks {
            let slice = bytes[(i * ModelTopic.chunkBytes)..<min(bytes.count, (i + 1) * ModelTopic.chunkBytes)]
            try producer.send(topic: topic, key: ModelTopic.chunkKey(version: version, index: i), value: Array(slice), partition: 0)
        }
        let manifest = ModelManifest(info: package.info, modelBytes: package.model.count, codebookBytes: package.codebook.count, chunks: chunks,
                                     crc32c: bytes.withUnsafeBytes { CRC32C.checksum($0) }, publishedAt: now.timeIntervalSince1970)
        try producer.send(topic: topic, key: ModelTopic.manifestKey(version: version), value: Array(try JSONEncoder().encode(manifest)), partition: 0)
        try producer.flush()
        return manifest
    }

    /// Sends the promoted stack.
    public func send(_ promotion: Promotion) throws {
        try producer.send(topic: topic, key: ModelTopic.promotedKey, value: Array(try JSONEncoder().encode(promotion)), partition: 0)
        try producer.flush()
    }

    /// Tombstones a deleted version's chunks and manifest, so compaction drops them.
    public func forget(version: UInt32, chunks: Int) throws {
        for i in 0..<chunks { try producer.sendTombstone(topic: topic, key: ModelTopic.chunkKey(version: version, index: i), partition: 0) }
        try producer.sendTombstone(topic: topic, key: ModelTopic.manifestKey(version: version), partition: 0)
        try producer.flush()
    }
}
