import Engine
import Foundation
import Store

/// What reading the models topic yields, record by record.
public enum ModelTopicUpdate: Sendable {
    /// A version whose chunks and manifest are all in, with a matching size and CRC-32C.
    case package(ModelPackage, manifest: ModelManifest)
    case promoted(Promotion)
    /// A version the train node deleted (its manifest's tombstone).
    case forgotten(version: UInt32)
    /// A train node took the lease.
    case leader(LeaderRecord)
    /// The leader's latest trainer checkpoint: its generator file and its reward-model file.
    case checkpoint(generator: [UInt8], reward: [UInt8], manifest: CheckpointManifest)
    /// A record that cannot be used; the reason names its key (the topic goes on being read).
    case refused(String)
    /// A record of a deposed leader (an epoch older than one seen before), ignored.
    case fenced(String)
}

/// Puts the models topic's records back together. Chunks wait for their manifest and a manifest for its
/// chunks, in whichever order they come (a compacted topic keeps each key's latest record, so a version
/// sent twice may interleave); a version is yielded once all of its chunks are in and the package's size
/// and CRC-32C match. A version whose check fails waits for the train node to send it again. Manifests,
/// promotions and leader records of an epoch older than the newest seen are fenced.
public struct ModelTopicAssembler: Sendable {
    private var chunks: [UInt32: [Int: [UInt8]]] = [:]
    private var manifests: [UInt32: ModelManifest] = [:]
    private var checkpointChunks: [Int: [UInt8]] = [:]
    /// Whether checkpoints are put together (a standby train node's reader) or skipped (a serve node's).
    private let checkpoints: Bool
    /// The newest epoch seen.
    public private(set) var epoch: Int64 = -1

    public init(checkpoints: Bool = false) { self.checkpoints = checkpoints }

    /// Versions with chunks or a manifest waiting.
    public var waiting: Int { Set(chunks.keys).union(manifests.keys).count }

    /// Takes one record (`value` empty: a tombstone) and says what it completes, if anything.
    public mutating func take(key: [UInt8]?, value: [UInt8]) -> ModelTopicUpdate? {
        guard let key, let parsed = ModelTopic.Key(key) else {
            return .refused("a record with key '\(key.map { String(decoding: $0.prefix(80), as: UTF8.self) } ?? "(none)")' is not a models-topic record")
        }
        switch parsed {
        case .promoted:
            guard !value.isEmpty else { return nil }
            guard let promotion = try? JSONDecoder().decode(Promotion.self, from: Data(value)) else { return .refused("'promoted' does not decode") }
            if let fenced = fence(promotion.epoch, "promotion \(promotion.stack)", by: promotion.node) { return fenced }
            return .promoted(promotion)
        case .leader:
            guard !value.isEmpty else { return nil }
            guard let leader = try? JSONDecoder().decode(LeaderRecord.self, from: Data(value)) else { return .refused("'leader' does not decode") }
            if let fenced = fence(leader.epoch, "leader record", by: leader.node) { return fenced }
            return .leader(leader)
        case .chunk(let version, let index):
            if value.isEmpty {
                chunks[version]?[index] = nil
                return nil
            }
            chunks[version, default: [:]][index] = value
            return assemble(version)
        case .manifest(let version):
            if value.isEmpty {
                (chunks[version], manifests[version]) = (nil, nil)
                return .forgotten(version: version)
            }
            guard let manifest = try? JSONDecoder().decode(ModelManifest.self, from: Data(value)) else {
                return .refused("manifest of version \(version) does not decode")
            }
            guard manifest.info.version == version else {
                return .refused("manifest of version \(version) describes version \(manifest.info.version)")
            }
            guard manifest.chunks == Self.chunks(for: manifest.modelBytes, manifest.codebookBytes) else {
                return .refused("manifest of version \(version): \(manifest.chunks) chunks cannot hold \(manifest.modelBytes + manifest.codebookBytes) bytes")
            }
            if let fenced = fence(manifest.epoch, "version \(version)", by: manifest.node) {
                (chunks[version], manifests[version]) = (nil, nil)
                return fenced
            }
            manifests[version] = manifest
            return assemble(version)
        case .checkpointChunk(let index):
            guard checkpoints else { return nil }
            checkpointChunks[index] = value.isEmpty ? nil : value
            return nil
        case .checkpointManifest:
            guard checkpoints, !value.isEmpty else { return nil }
            defer { checkpointChunks = [:] }
            guard let manifest = try? JSONDecoder().decode(CheckpointManifest.self, from: Data(value)),
                  manifest.chunks == Self.chunks(for: manifest.generatorBytes, manifest.rewardBytes) else {
                return .refused("the checkpoint manifest does not decode or its chunk count does not fit its sizes")
            }
            if let fenced = fence(manifest.epoch, "checkpoint of step \(manifest.step)", by: manifest.node) { return fenced }
            guard let bytes = joined(checkpointChunks, count: manifest.chunks, size: manifest.generatorBytes + manifest.rewardBytes),
                  bytes.withUnsafeBytes({ CRC32C.checksum($0) }) == manifest.crc32c else {
                return .refused("the checkpoint of step \(manifest.step) is incomplete or its CRC-32C does not match; waiting for the next one")
            }
            return .checkpoint(generator: Array(bytes[..<manifest.generatorBytes]), reward: Array(bytes[manifest.generatorBytes...]), manifest: manifest)
        }
    }

    /// Chunks of `ModelTopic.chunkBytes` that hold two parts of these sizes.
    public static func chunks(for first: Int, _ second: Int) -> Int {
        guard first >= 0, second >= 0, first + second > 0 else { return 0 }
        return (first + second + ModelTopic.chunkBytes - 1) / ModelTopic.chunkBytes
    }

    /// Raises the epoch to `epoch`, or says why a record of an older one is ignored.
    private mutating func fence(_ epoch: Int64, _ what: String, by node: String) -> ModelTopicUpdate? {
        guard epoch >= self.epoch else {
            return .fenced("\(what) from \(node) in epoch \(epoch), deposed: epoch \(self.epoch) leads")
        }
        self.epoch = epoch
        return nil
    }

    /// Chunks `0..<count` put together, if all are there and hold `size` bytes.
    private func joined(_ parts: [Int: [UInt8]], count: Int, size: Int) -> [UInt8]? {
        guard (0..<count).allSatisfy({ parts[$0] != nil }) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        for i in 0..<count { bytes += parts[i]! }
        return bytes.count == size ? bytes : nil
    }

    private mutating func assemble(_ version: UInt32) -> ModelTopicUpdate? {
        guard let manifest = manifests[version], let parts = chunks[version], (0..<manifest.chunks).allSatisfy({ parts[$0] != nil }) else { return nil }
        chunks[version] = nil
        let size = manifest.modelBytes + manifest.codebookBytes
        guard let bytes = joined(parts, count: manifest.chunks, size: size) else {
            return .refused("version \(version): its chunks do not hold the \(size) bytes its manifest says; waiting for it to be sent again")
        }
        let crc = bytes.withUnsafeBytes { CRC32C.checksum($0) }
        guard crc == manifest.crc32c else {
            return .refused("version \(version): CRC-32C \(crc) of its chunks differs from its manifest's \(manifest.crc32c); waiting for it to be sent again")
        }
        manifests[version] = nil
        let package = ModelPackage(info: manifest.info, model: Array(bytes[..<manifest.modelBytes]), codebook: Array(bytes[manifest.modelBytes...]))
        return .package(package, manifest: manifest)
    }
}
