import Foundation
import Store

/// The records of a cluster's models topic (`cluster.modelsTopic`, default `onerec.models`): one
/// partition, compacted, written by the train node and followed by every serve node.
///
/// | key | value |
/// |---|---|
/// | `model/<v>/chunk/<i>` | bytes `i·chunkBytes ..< (i+1)·chunkBytes` of version v's package |
/// | `model/<v>/manifest` | `ModelManifest` JSON: the record, sizes, chunk count and CRC-32C of the package |
/// | `promoted` | `Promotion` JSON: the promoted stack, oldest first; its last version serves |
/// | `leader` | `LeaderRecord` JSON: the leading train node and its epoch, written first when it takes the lease |
/// | `checkpoint/chunk/<i>` | bytes of the leader's latest trainer checkpoint (generator file, then reward file) |
/// | `checkpoint/manifest` | `CheckpointManifest` JSON |
///
/// A package is the version's safetensors file followed by its codebook (`Codebook.encoded()`). The chunks
/// come before their manifest, and the manifest before any promotion naming the version; a null value
/// (tombstone) under a version's keys means the train node deleted that version. Every manifest, promotion
/// and leader record carries the writer's epoch (`TrainerLease`): once a reader has seen an epoch, records
/// of an older one are a deposed leader's and are refused.
public enum ModelTopic {
    /// Bytes of one chunk: half the smallest common broker message limit (1 MiB), leaving room for the
    /// record's key and headers.
    public static let chunkBytes = 512 * 1024
    public static let promotedKey = Array("promoted".utf8)
    public static let leaderKey = Array("leader".utf8)
    public static let checkpointManifestKey = Array("checkpoint/manifest".utf8)
    public static func checkpointChunkKey(index: Int) -> [UInt8] { Array("checkpoint/chunk/\(index)".utf8) }

    public static func chunkKey(version: UInt32, index: Int) -> [UInt8] { Array("model/\(version)/chunk/\(index)".utf8) }
    public static func manifestKey(version: UInt32) -> [UInt8] { Array("model/\(version)/manifest".utf8) }

    /// What a key names; nil for a key this topic does not use.
    public enum Key: Equatable, Sendable {
        case chunk(version: UInt32, index: Int)
        case manifest(version: UInt32)
        case promoted
        case leader
        case checkpointChunk(index: Int)
        case checkpointManifest

        public init?(_ bytes: [UInt8]) {
            if bytes == ModelTopic.promotedKey { self = .promoted; return }
            if bytes == ModelTopic.leaderKey { self = .leader; return }
            if bytes == ModelTopic.checkpointManifestKey { self = .checkpointManifest; return }
            let parts = String(decoding: bytes, as: UTF8.self).split(separator: "/", omittingEmptySubsequences: false)
            if parts.count == 3, parts[0] == "checkpoint", parts[1] == "chunk", let index = Int(parts[2]), index >= 0 {
                self = .checkpointChunk(index: index)
                return
            }
            guard parts.count >= 3, parts[0] == "model", let version = UInt32(parts[1]) else { return nil }
            if parts.count == 3, parts[2] == "manifest" {
                self = .manifest(version: version)
            } else if parts.count == 4, parts[2] == "chunk", let index = Int(parts[3]), index >= 0 {
                self = .chunk(version: version, index: index)
            } else {
                return nil
            }
        }
    }
}

/// The manifest of one version's package on the models topic.
public struct ModelManifest: Codable, Sendable, Equatable {
    /// The version's record, as the train node's model store has it.
    public var info: ModelInfo
    /// Bytes of the safetensors file, then of the encoded codebook; the package is both, in that order.
    public var modelBytes: Int
    public var codebookBytes: Int
    public var chunks: Int
    /// CRC-32C of the whole package.
    public var crc32c: UInt32
    /// When the train node wrote it (seconds since the epoch).
    public var publishedAt: Double
    /// The writer's leadership (`TrainerLease`) and name.
    public var epoch: Int64
    public var node: String

    public init(info: ModelInfo, modelBytes: Int, codebookBytes: Int, chunks: Int, crc32c: UInt32, publishedAt: Double, epoch: Int64, node: String) {
        (self.info, self.modelBytes, self.codebookBytes, self.chunks, self.crc32c, self.publishedAt) =
            (info, modelBytes, codebookBytes, chunks, crc32c, publishedAt)
        (self.epoch, self.node) = (epoch, node)
    }
}

/// The promoted stack as the train node last changed it (a publication, a promotion or a rollback).
public struct Promotion: Codable, Sendable, Equatable {
    /// Promoted versions, oldest first; the last one serves.
    public var stack: [UInt32]
    /// When the train node wrote it (seconds since the epoch).
    public var at: Double
    public var epoch: Int64
    public var node: String

    public init(stack: [UInt32], at: Double, epoch: Int64, node: String) { (self.stack, self.at, self.epoch, self.node) = (stack, at, epoch, node) }
}

/// Written by a train node when it takes the lease, before anything else it publishes.
public struct LeaderRecord: Codable, Sendable, Equatable {
    public var epoch: Int64
    public var node: String
    public var at: Double
    /// Where the leader's HTTP API answers (`cluster.advertisedUrl`): other nodes forward admin requests there.
    public var url: String?

    public init(epoch: Int64, node: String, at: Double, url: String? = nil) { (self.epoch, self.node, self.at, self.url) = (epoch, node, at, url) }
}

/// The leader's latest trainer checkpoint: its generator file (weights and moments) followed by its
/// reward-model file, in chunks; a standby train node keeps it to resume from when it takes over.
public struct CheckpointManifest: Codable, Sendable, Equatable {
    public var epoch: Int64
    public var node: String
    /// Generator optimisation steps behind it.
    public var step: Int
    public var generatorBytes: Int
    public var rewardBytes: Int
    public var chunks: Int
    public var crc32c: UInt32
    public var at: Double

    public init(epoch: Int64, node: String, step: Int, generatorBytes: Int, rewardBytes: Int, chunks: Int, crc32c: UInt32, at: Double) {
        (self.epoch, self.node, self.step, self.generatorBytes, self.rewardBytes, self.chunks, self.crc32c, self.at) =
            (epoch, node, step, generatorBytes, rewardBytes, chunks, crc32c, at)
    }
}

/// One version as it travels: its record, its safetensors file and its encoded codebook.
public struct ModelPackage: Sendable {
    public var info: ModelInfo
    public var model: [UInt8]
    public var codebook: [UInt8]

    public init(info: ModelInfo, model: [UInt8], codebook: [UInt8]) { (self.info, self.model, self.codebook) = (info, model, codebook) }
}
