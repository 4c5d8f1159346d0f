import Events

/// Logged sessions as reward-model examples: the events of one request, in position order, with the
/// user's earlier positive items as history and the four labels (swt, vtr, wtr, ltr).
public struct RewardExample: Sendable {
    public let user: UInt64
    public let history: [UInt64]
    public let session: [UInt64]
    public let labels: [Float]
    /// The session's items the user responded to positively, in order: the generator's target.
    public let positives: [UInt64]
    /// Each history item's `TimeGap` bucket, where known (for a generator with time gaps).
    public let historyGaps: [Int32]?

    public init(user: UInt64, history: [UInt64], session: [UInt64], labels: [Float], positives: [UInt64], historyGaps: [Int32]? = nil) {
        precondition(labels.count == 4, "one label per tower")
        precondition(historyGaps.map { $0.count == history.count } ?? true, "one gap bucket per history item")
        (self.user, self.history, self.session, self.labels, self.positives) = (user, history, session, labels, positives)
        self.historyGaps = historyGaps
    }

    /// Session watch time at which the swt label is 0.5.
    public static let watchScaleMs = 60_000.0

    /// The four labels of a logged session's events (in position order): swt = w / (w + 60 s) for the
    /// session's total watch time w, in [0, 1) and rising with w (so the tower ranks sessions by how long
    /// they are watched, long items and continued sessions included); vtr = share of items watched at
    /// least halfway; wtr = any follow; ltr = any like.
    public static func labels(of session: some Collection<InteractionEvent>) -> [Float] {
        let watched = session.reduce(0.0) { $0 + Double($1.watchTimeMs) }
        let views = session.filter { $0.watchTimeMs * 2 >= $0.durationMs }.count
        return [Float(watched / (watched + watchScaleMs)), Float(views) / Float(max(session.count, 1)),
                session.contains { $0.follow } ? 1 : 0, session.contains { $0.like } ? 1 : 0]
    }

    /// Groups interaction events (in time order) by request; a request's history is every positive item
    /// of its user from earlier requests.
    public static func from(_ events: [InteractionEvent], sessionLength: Int) -> [RewardExample] {
        var order: [String] = []
        var byRequest: [String: [InteractionEvent]] = [:]
        for e in events {
            if byRequest[e.requestID] == nil { order.append(e.requestID) }
            byRequest[e.requestID, default: []].append(e)
        }
        var positives: [UInt64: [UInt64]] = [:]
        var examples: [RewardExample] = []
        for request in order {
            let session = byRequest[request]!.sorted { $0.position < $1.position }.prefix(sessionLength)
            let user = session[session.startIndex].userID
            let liked = session.filter(\.isPositive).map(\.itemID)
            examples.append(RewardExample(user: user, history: positives[user] ?? [], session: session.map(\.itemID), labels: labels(of: session),
                                          positives: liked))
            positives[user, default: []] += liked
        }
        return examples
    }
}
