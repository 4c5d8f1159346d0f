import Events
import Models

/// A logged session: the events of one request (position order) and the user's positive items before it.
public struct LoggedSession: Sendable {
    public let user: UInt64
    public let events: [InteractionEvent]
    /// The user's positive items before this session, oldest first (capped).
    public let history: [UInt64]
    /// Each history item's `TimeGap` bucket (its gap to the positive before it).
    public let historyGaps: [Int32]
}

/// Groups the interaction feed into sessions by request id. A session is complete when it has
/// `sessionItems` events, when its user starts another request, or when no event came for it during
/// `gapMs` of event time; then it is emitted with the user's earlier positives, and its own positives
/// join the user's history.
public struct SessionAssembler {
    public let sessionItems: Int
    public let historyCap: Int
    public let gapMs: Int64
    private var open: [UInt64: (request: String, events: [InteractionEvent], lastMs: Int64)] = [:]
    public private(set) var histories: [UInt64: [UInt64]] = [:]
    /// Each user's history items' `TimeGap` buckets, beside `histories`.
    public private(set) var historyGaps: [UInt64: [Int32]] = [:]
    /// The time of each user's newest positive, for the next one's gap.
    private var lastPositiveMs: [UInt64: Int64] = [:]
    private var latestMs: Int64 = 0

    public init(sessionItems: Int, historyCap: Int, gapMs: Int64 = 30 * 60 * 1000) {
        precondition(sessionItems >= 1 && historyCap >= 1, "sessions and histories need room")
        (self.sessionItems, self.historyCap, self.gapMs) = (sessionItems, historyCap, gapMs)
    }

    /// Adds events (in arrival order) and returns the sessions they complete.
    public mutating func add(_ events: [InteractionEvent]) -> [LoggedSession] {
        var done: [LoggedSession] = []
        for e in events {
            latestMs = max(latestMs, e.timestampMs)
            if let current = open[e.userID], current.request != e.requestID {
                done.append(close(e.userID))
            }
            open[e.userID, default: (e.requestID, [], e.timestampMs)].events.append(e)
            open[e.userID]!.lastMs = e.timestampMs
            if open[e.userID]!.events.count >= sessionItems { done.append(close(e.userID)) }
        }
        // Sessions nobody added to for a while.
        for (user, session) in open where latestMs - session.lastMs > gapMs { done.append(close(user)) }
        return done
    }

    private mutating func close(_ user: UInt64) -> LoggedSession {
        let session = open.removeValue(forKey: user)!
        let events = session.events.sorted { $0.position < $1.position }
        let before = histories[user] ?? [], beforeGaps = historyGaps[user] ?? []
        let positives = events.filter(\.isPositive)
        var added: [Int32] = []
        for e in positives {
            added.append(lastPositiveMs[user].map { TimeGap.bucket(seconds: (e.timestampMs - $0) / 1000) } ?? 0)
            lastPositiveMs[user] = e.timestampMs
        }
        histories[user] = Array((before + positives.map(\.itemID)).suffix(historyCap))
        historyGaps[user] = Array((beforeGaps + added).suffix(historyCap))
        return LoggedSession(user: user, events: events, history: before, historyGaps: beforeGaps)
    }
}
