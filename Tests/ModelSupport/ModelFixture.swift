import Engine
import Foundation
import Logging
import Models
import SemanticIDs
import Serving
import Store
import TestSupport

/// A store, a 60-item codebook and a tiny generator, in a temporary directory.
public struct ModelFixture: Sendable {
    public let dir = TempDirectory()
    public let store: OpenStore
    public let registry: ModelRegistry
    public let history: HistoryStore
    public let codebook: Codebook
    public let config: Seq2Seq.Config

    public init() throws {
        store = try OpenStore.forWriting(path: dir.path + "/store", mapSizeMiB: 16, holder: "test")
        registry = try ModelRegistry(store: store, directory: dir.path + "/models", keep: 3, keepRecords: 4, logger: Logger(label: "test"))
        history = try store.history()
        var rng = SplitMix64(seed: 5)
        let vectors = ItemVectors(ids: (0..<60).map { UInt64($0) }, dimension: 4, values: (0..<240).map { _ in rng.nextGaussian() })
        var qc = ResidualQuantizer.Config()
        qc.codesPerLevel = 4
        let (q, training) = ResidualQuantizer.train(vectors, config: qc)
        codebook = try Codebook(version: 1, vectors: vectors, quantizer: q, training: training)
        var c = Seq2Seq.Config.preset("tiny")!
        c.vocabulary = 3 + 3 * 4
        config = c
    }

    public func info(_ version: UInt32, kind: ModelInfo.Kind = .trained) -> ModelInfo {
        ModelInfo(version: version, parent: nil, kind: kind, codebookVersion: 1, config: config, maxHistory: 10, sessionItems: 3, steps: 0)
    }

    @discardableResult
    public func publish(seed: UInt64, promote: Bool = true) throws -> ModelSnapshot {
        try registry.publish(model: Seq2Seq(config: config, seed: seed), codebook: codebook, info: info(try registry.nextVersion()), promote: promote)
    }
}
