import Foundation
import Models

/// What the model store records about one generator version (JSON in LMDB): where it came from, what it
/// was measured at, and what it needs to be rebuilt (its shape and the codebook its tokens refer to).
public struct ModelInfo: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// Written by the background trainer (next-token loss on fresh sessions).
        case trained
        /// The outcome of an alignment round (preference pairs scored by the reward model).
        case aligned
    }

    public var version: UInt32
    /// The version it was trained from (nil for the first one).
    public var parent: UInt32?
    public var kind: Kind
    public var codebookVersion: UInt32
    public var config: Seq2Seq.Config
    /// History items the encoder reads, and items of each trained target (1: the version ranks single
    /// items and shows the best; more: it generates sessions).
    public var maxHistory: Int
    public var sessionItems: Int
    /// Generator optimisation steps behind this version (all of its ancestors' included).
    public var steps: Int
    public var createdAt: Double
    /// Measured figures (training loss, reward before/after alignment, ...), by name.
    public var metrics: [String: Double]

    public init(version: UInt32, parent: UInt32?, kind: Kind, codebookVersion: UInt32, config: Seq2Seq.Config, maxHistory: Int,
                sessionItems: Int, steps: Int, metrics: [String: Double] = [:], createdAt: Date = Date()) {
        (self.version, self.parent, self.kind, self.codebookVersion, self.config) = (version, parent, kind, codebookVersion, config)
        (self.maxHistory, self.sessionItems, self.steps, self.metrics) = (maxHistory, sessionItems, steps, metrics)
        self.createdAt = createdAt.timeIntervalSince1970
    }
}
