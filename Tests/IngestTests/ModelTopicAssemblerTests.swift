import Engine
import Foundation
import Ingest
import Models
import Store
import Testing

/// The models topic's records as a writer sends them, put back together by the assembler.
@Suite struct ModelTopicAssemblerTests {
    static func package(_ version: UInt32, bytes: Int, seed: UInt8 = 1) -> ModelPackage {
        let info = ModelInfo(version: version, parent: nil, kind: .trained, codebookVersion: 1, config: Seq2Seq.Config.preset("tiny")!,
                             maxHistory: 10, sessionItems: 3, steps: 0)
        let body = (0..<bytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
        return ModelPackage(info: info, model: Array(body.prefix(bytes - 100)), codebook: Array(body.suffix(100)))
    }

    /// The records `ModelTopicWriter.send` writes for `package`: its chunks, then its manifest.
    static func records(_ package: ModelPackage, epoch: Int64 = 1) -> [(key: [UInt8], value: [UInt8])] {
        let bytes = package.model + package.codebook
        let n = (bytes.count + ModelTopic.chunkBytes - 1) / ModelTopic.chunkBytes
        var out = (0..<n).map { i in
            (ModelTopic.chunkKey(version: package.info.version, index: i),
             Array(bytes[(i * ModelTopic.chunkBytes)..<min(bytes.count, (i + 1) * ModelTopic.chunkBytes)]))
        }
        let manifest = ModelManifest(info: package.info, modelBytes: package.model.count, codebookBytes: package.codebook.count, chunks: n,
                                     crc32c: bytes.withUnsafeBytes { CRC32C.checksum($0) }, publishedAt: 1, epoch: epoch, node: "n\(epoch)")
        out.append((ModelTopic.manifestKey(version: package.info.version), Array(try! JSONEncoder().encode(manifest))))
        return out
    }

    @Test func aPackageOfSeveralChunksAssemblesInAnyOrder() throws {
        let p = Self.package(7, bytes: 2 * ModelTopic.chunkBytes + 1234)
        let records = Self.records(p)
        #expect(records.count == 4)
        for order in [Array(records.indices), Array(records.indices.reversed()), [1, 3, 0, 2]] {
            var a = ModelTopicAssembler()
            let updates = order.compactMap { a.take(key: records[$0].key, value: records[$0].value) }
            #expect(updates.count == 1)
            guard case .package(let got, let manifest) = try #require(updates.first) else { Issue.record("not a package"); continue }
            #expect(got.model == p.model && got.codebook == p.codebook && got.info == p.info && manifest.chunks == 3)
            #expect(a.waiting == 0)
        }
    }

    @Test func aDamagedChunkIsRefusedAndTheVersionServedWhenSentAgain() throws {
        let p = Self.package(3, bytes: ModelTopic.chunkBytes + 10)
        var records = Self.records(p)
        var a = ModelTopicAssembler()
        var damaged = records[0].value
        damaged[100] ^= 1
        _ = a.take(key: records[0].key, value: damaged)
        _ = a.take(key: records[1].key, value: records[1].value)
        guard case .refused(let reason) = a.take(key: records[2].key, value: records[2].value) else { Issue.record("damage went unnoticed"); return }
        #expect(reason.contains("CRC-32C") && reason.contains("version 3"))
        // The train node sends it again (a restart re-sends what is on disk): the chunks complete it.
        records.removeLast()
        let updates = records.compactMap { a.take(key: $0.key, value: $0.value) }
        guard case .package(let got, _) = try #require(updates.first) else { Issue.record("not repaired"); return }
        #expect(got.model == p.model)
    }

    @Test func promotionsTombstonesAndForeignRecords() throws {
        var a = ModelTopicAssembler()
        let promotion = Promotion(stack: [1, 2], at: 5, epoch: 1, node: "n1")
        guard case .promoted(let got) = a.take(key: ModelTopic.promotedKey, value: Array(try JSONEncoder().encode(promotion))) else {
            Issue.record("promotion not read"); return
        }
        #expect(got == promotion)
        // A version's chunks, then its tombstone: forgotten, nothing left waiting.
        let records = Self.records(Self.package(4, bytes: 1000))
        _ = a.take(key: records[0].key, value: records[0].value)
        #expect(a.waiting == 1)
        guard case .forgotten(let version) = a.take(key: ModelTopic.manifestKey(version: 4), value: []) else { Issue.record("tombstone ignored"); return }
        #expect(version == 4 && a.waiting == 0)
        // Records this topic does not use are refused with their key, and the reading goes on.
        for (key, value) in [(Array("model/x/chunk/0".utf8), [UInt8(1)]), (Array("other".utf8), [1]), (ModelTopic.promotedKey, Array("{".utf8)),
                             (ModelTopic.manifestKey(version: 9), Array(try JSONEncoder().encode(Self.manifest(of: 8))))] {
            guard case .refused = a.take(key: key, value: value) else { Issue.record("accepted \(String(decoding: key, as: UTF8.self))"); continue }
        }
        guard case .refused = a.take(key: nil, value: [1]) else { Issue.record("accepted a record without a key"); return }
    }

    static func manifest(of version: UInt32) -> ModelManifest {
        let p = package(version, bytes: 500)
        return ModelManifest(info: p.info, modelBytes: 400, codebookBytes: 100, chunks: 1, crc32c: 0, publishedAt: 0, epoch: 1, node: "n1")
    }

    /// Once a newer leader has announced itself, the deposed one's versions and promotions are fenced;
    /// the new leader's go through.
    @Test func recordsOfADeposedLeaderAreFenced() throws {
        var a = ModelTopicAssembler()
        guard case .leader(let first) = a.take(key: ModelTopic.leaderKey, value: Self.json(LeaderRecord(epoch: 3, node: "a", at: 0))) else {
            Issue.record("the leader record was not read"); return
        }
        #expect(first.node == "a")
        #expect(a.take(key: ModelTopic.leaderKey, value: Self.json(LeaderRecord(epoch: 8, node: "b", at: 1))) != nil)
        #expect(a.epoch == 8)
        for record in Self.records(Self.package(5, bytes: 3000), epoch: 3).dropLast() { #expect(a.take(key: record.key, value: record.value) == nil) }
        guard case .fenced(let reason) = a.take(key: Self.records(Self.package(5, bytes: 3000), epoch: 3).last!.key,
                                                value: Self.records(Self.package(5, bytes: 3000), epoch: 3).last!.value) else {
            Issue.record("a deposed leader's version went through"); return
        }
        #expect(reason.contains("from n3 in epoch 3") && reason.contains("epoch 8 leads"))
        #expect(a.waiting == 0)
        guard case .fenced = a.take(key: ModelTopic.promotedKey, value: Self.json(Promotion(stack: [5], at: 2, epoch: 3, node: "a"))) else {
            Issue.record("a deposed leader's promotion went through"); return
        }
        let updates = Self.records(Self.package(5, bytes: 3000, seed: 2), epoch: 8).compactMap { a.take(key: $0.key, value: $0.value) }
        guard case .package(_, let manifest) = try #require(updates.first) else { Issue.record("the leader's version was not read"); return }
        #expect(manifest.epoch == 8)
    }

    /// A standby's reader puts the leader's checkpoint together; a serve node's skips it.
    @Test func checkpointsAreAssembledForStandbysOnly() throws {
        let generator = (0..<(ModelTopic.chunkBytes + 77)).map { UInt8(truncatingIfNeeded: $0) }, reward = [UInt8](repeating: 9, count: 500)
        let bytes = generator + reward
        let manifest = CheckpointManifest(epoch: 2, node: "a", step: 400, generatorBytes: generator.count, rewardBytes: reward.count, chunks: 2,
                                          crc32c: bytes.withUnsafeBytes { CRC32C.checksum($0) }, at: 0)
        let records = [(ModelTopic.checkpointChunkKey(index: 0), Array(bytes[..<ModelTopic.chunkBytes])),
                       (ModelTopic.checkpointChunkKey(index: 1), Array(bytes[ModelTopic.chunkBytes...])),
                       (ModelTopic.checkpointManifestKey, Array(try JSONEncoder().encode(manifest)))]
        var standby = ModelTopicAssembler(checkpoints: true), serve = ModelTopicAssembler()
        guard case .checkpoint(let g, let r, let m) = try #require(records.compactMap({ standby.take(key: $0.0, value: $0.1) }).first) else {
            Issue.record("no checkpoint"); return
        }
        #expect(g == generator && r == reward && m == manifest)
        #expect(records.compactMap { serve.take(key: $0.0, value: $0.1) }.isEmpty)
        // A lost chunk: refused, and the next checkpoint starts afresh.
        guard case .refused = standby.take(key: records[2].0, value: records[2].1) else { Issue.record("an incomplete checkpoint went through"); return }
    }

    static func json<T: Encodable>(_ value: T) -> [UInt8] { Array(try! JSONEncoder().encode(value)) }

    @Test func keysRoundTrip() {
        #expect(ModelTopic.Key(ModelTopic.chunkKey(version: 12, index: 3)) == .chunk(version: 12, index: 3))
        #expect(ModelTopic.Key(ModelTopic.manifestKey(version: 12)) == .manifest(version: 12))
        #expect(ModelTopic.Key(ModelTopic.promotedKey) == .promoted)
        #expect(ModelTopic.Key(ModelTopic.leaderKey) == .leader)
        #expect(ModelTopic.Key(ModelTopic.checkpointChunkKey(index: 4)) == .checkpointChunk(index: 4))
        #expect(ModelTopic.Key(ModelTopic.checkpointManifestKey) == .checkpointManifest)
        for bad in ["model/12", "model/12/chunk/-1", "model/12/chunk", "model//manifest", "model/12/manifest/x"] {
            #expect(ModelTopic.Key(Array(bad.utf8)) == nil)
        }
    }
}
