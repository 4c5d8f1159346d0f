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
    /// A record that cannot be used; the reason names its key (the topic goes on being read).
    case refused(String)
}

/// Puts the models topic's records back together. Chunks wait for their manifest and a manifest for its
/// chunks, in whichever order they come (a compacted topic keeps each key's latest record, so a version
/// sent twice may interleave); a version is yielded once all of its chunks are in and the package's size
/// and CRC-32C match. A version whose check fails waits for the train node to send it again.
public struct ModelTopicAssembler: Sendable {
    private var chunks: [UInt32: [Int: [UInt8]]] = [:]
    private var manifests: [UInt32: ModelManifest] = [:]

    public init() {}

    /// Versions with chunks or a manifest waiting.
    public var waiting: Int { Set(chunks.keys).union(manifests.keys).count }

    /// Takes one record (`value` empty: a tombstone) and says what it completes, if anything.
    public mutating func take(key: [UInt8]?, value: [UInt8]) -> ModelTopicUpdate? {
        guard let key, let parsed = ModelTopic.Key(key) else {
            return .refused("a record with key '\(key.map { String(decoding: $0.prefix(80), as: UTF8.self) } ?? "(none)")' is not a models-topic record")
        }
        switch parsed {
        case .promoted:
            if value.isEmpty { return nil }
            do {
                return .promoted(try JSONDecoder().decode(Promotion.self, from: Data(value)))
            } catch {
                return .refused("'promoted' does not decode: \(error)")
            }
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
            do {
                let manifest = try JSONDecoder().decode(ModelManifest.self, from: Data(value))
                guard manifest.info.version == version else {
                    return .refused("manifest of version \(version) describes version \(manifest.info.version)")
                }
                guard manifest.chunks >= 1, manifest.modelBytes >= 0, manifest.codebookBytes >= 0,
                      manifest.chunks == (manifest.modelBytes + manifest.codebookBytes + ModelTopic.chunkBytes - 1) / ModelTopic.chunkBytes else {
                    return .refused("manifest of version \(version): \(manifest.chunks) chunks cannot hold \(manifest.modelBytes + manifest.codebookBytes) bytes")
                }
                manifests[version] = manifest
            } catch {
                return .refused("manifest of version \(version) does not decode: \(error)")
            }
            return assemble(version)
        }
    }

    private mutating func assemble(_ version: UInt32) -> ModelTopicUpdate? {
        guard let manifest = manifests[version], let parts = chunks[version], parts.count >= manifest.chunks,
              (0..<manifest.chunks).allSatisfy({ parts[$0] != nil }) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(manifest.modelBytes + manifest.codebookBytes)
        for i in 0..<manifest.chunks { bytes += parts[i]! }
        chunks[version] = nil
        let size = manifest.modelBytes + manifest.codebookBytes
        guard bytes.count == size else {
            return .refused("version \(version): its chunks hold \(bytes.count) bytes, its manifest says \(size); waiting for it to be sent again")
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
