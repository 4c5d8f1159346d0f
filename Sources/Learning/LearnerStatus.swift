import Alignment
import Foundation
import Synchronization

/// What the learner is doing, for `/v1/admin/status` and the status page. Written by the learner's
/// thread, read by HTTP handlers.
public final class LearnerStatus: Sendable {
    public struct Snapshot: Codable, Sendable {
        public var phase = "waiting for items"
        public var steps = 0
        public var examples = 0
        public var users = 0
        public var catalogItems = 0
        public var codedItems = 0
        public var codebookVersion: UInt32?
        /// Where the codebook's vectors came from (content, behaviour, both).
        public var codebookSource: String?
        /// Of the newest 10,000 positives, the share on items the codebook has no code for.
        public var uncodedPositiveShare = 0.0
        /// A rebuilt codebook's generator in training beside the serving one (nil when none).
        public var successor: Successor?
        /// What became of the newest rebuilds (at most 10), oldest first.
        public var rebuilds: [String] = []
        /// Test-then-train accuracy of the daemon's answers (nil until the learner has started).
        public var online: OnlineAccuracy?
        public var eventsRead: UInt64 = 0
        /// (step, smoothed next-token loss) and (step, reward-model BCE), newest last, thinned to 200 points.
        public var generatorLoss: [[Double]] = []
        public var rewardLoss: [[Double]] = []
        public var rounds: [AlignmentRound] = []
        public var pendingAlignments = 0
        public var lastCheckpointStep: Int?
        public var errors = 0
    }

    /// A successor's progress: its steps and, on the newest paired tests, its HR@10 and the serving version's.
    public struct Successor: Codable, Sendable, Equatable {
        public var codebookVersion: UInt32
        public var source: String
        public var steps: Int
        public var tested: Int
        public var hitRate: Double
        public var servingHitRate: Double
    }

    private let state = Mutex(Snapshot())
    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    public func update(_ body: (inout Snapshot) -> Void) { state.withLock { body(&$0) } }

    /// Appends a point to a curve, halving the curve's resolution when it grows past 200 points.
    static func append(_ point: [Double], to curve: inout [[Double]]) {
        curve.append(point)
        if curve.count > 200 { curve = curve.enumerated().filter { $0.offset % 2 == 1 }.map(\.element) }
    }
}
