import Foundation

/// Realised outcomes of a version's answers, or of a canary's arm: what was served and what users did with
/// it. A session is an answer with at least one event; its watch time is the sum over its events.
public struct SessionOutcomes: Sendable, Equatable, Encodable {
    /// The version that answered (nil: popular items, or a canary's control arm, which several versions
    /// may serve).
    public let version: UInt32?
    public var requests: UInt64 = 0
    public var itemsShown: UInt64 = 0
    public var sessions: UInt64 = 0
    public var events: UInt64 = 0
    /// Events with `InteractionEvent.isPositive` (watched at least half, or a positive signal).
    public var positives: UInt64 = 0
    public var likes: UInt64 = 0
    public var follows: UInt64 = 0
    /// Sum over sessions of the session's watch time, in seconds, and of its square.
    public var watchSeconds: Double = 0
    public var watchSquares: Double = 0

    public init(version: UInt32?) { self.version = version }

    /// Mean watch time per session, seconds (0 without sessions).
    public var watchPerSession: Double { sessions > 0 ? watchSeconds / Double(sessions) : 0 }
    /// Standard deviation of a session's watch time, seconds (0 with fewer than two sessions).
    public var watchDeviation: Double {
        guard sessions > 1 else { return 0 }
        let n = Double(sessions)
        return (max(watchSquares - watchSeconds * watchSeconds / n, 0) / (n - 1)).squareRoot()
    }
    /// Shares of the items shown that got an event, a positive, a like, a follow.
    public var viewRate: Double { rate(events) }
    public var positiveRate: Double { rate(positives) }
    public var likeRate: Double { rate(likes) }
    public var followRate: Double { rate(follows) }
    private func rate(_ n: UInt64) -> Double { itemsShown > 0 ? Double(n) / Double(itemsShown) : 0 }

    /// Adds another period's outcomes (every figure is a sum).
    public mutating func add(_ other: SessionOutcomes) {
        requests += other.requests
        itemsShown += other.itemsShown
        sessions += other.sessions
        events += other.events
        positives += other.positives
        likes += other.likes
        follows += other.follows
        watchSeconds += other.watchSeconds
        watchSquares += other.watchSquares
    }

    enum CodingKeys: String, CodingKey {
        case version, requests, itemsShown, sessions, events, positives, likes, follows, watchPerSession, watchDeviation
        case viewRate, positiveRate, likeRate, followRate
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(requests, forKey: .requests)
        try c.encode(itemsShown, forKey: .itemsShown)
        try c.encode(sessions, forKey: .sessions)
        try c.encode(events, forKey: .events)
        try c.encode(positives, forKey: .positives)
        try c.encode(likes, forKey: .likes)
        try c.encode(follows, forKey: .follows)
        try c.encode(watchPerSession, forKey: .watchPerSession)
        try c.encode(watchDeviation, forKey: .watchDeviation)
        try c.encode(viewRate, forKey: .viewRate)
        try c.encode(positiveRate, forKey: .positiveRate)
        try c.encode(likeRate, forKey: .likeRate)
        try c.encode(followRate, forKey: .followRate)
    }
}
