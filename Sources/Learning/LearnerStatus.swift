import Foundation
import Synchronization

/// A finished alignment round: what it did, how candidate and current model compared, the outcome.
public struct AlignmentRound: Codable, Sendable, Equatable {
    public var id: Int
    /// "operator" or "schedule".
    public var reason: String
    public var startedAt: Double
    public var seconds: Double
    public var users: Int
    public var pairs: Int
    /// Mean reward-model reward of the top generated session on the held-out users, before and after.
    public var rewardBefore: Double
    public var rewardAfter: Double
    /// True expected watch time (s) of that session, when the daemon runs on the simulator.
    public var trueWatchBefore: Double?
    public var trueWatchAfter: Double?
    public var promoted: Bool
    /// The version the candidate was published as (nil when nothing was published).
    public var version: UInt32?
    public var note: String
}

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
        public var eventsRead: UInt64 = 0
        /// (step, smoothed next-token loss) and (step, reward-model BCE), newest last, thinned to 200 points.
        public var generatorLoss: [[Double]] = []
        public var rewardLoss: [[Double]] = []
        public var rounds: [AlignmentRound] = []
        public var pendingAlignments = 0
        public var lastCheckpointStep: Int?
        public var errors = 0
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
