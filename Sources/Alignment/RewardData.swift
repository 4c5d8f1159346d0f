import Events

/// Logged sessions as reward-model examples: the events of one request, in position order, with the
/// user's earlier positive items as history and the four labels (swt, vtr, wtr, ltr).
public struct RewardExample: Sendable {
    public let user: UInt64
    public let history: [UInt64]
    public let session: [UInt64]
    public let labels: [Float]

    public init(user: UInt64, history: [UInt64], session: [UInt64], labels: [Float]) {
        precondition(labels.count == 4, "one label per tower")
        (self.user, self.history, self.session, self.labels) = (user, history, session, labels)
    }

    /// The four labels of a logged session's events (in position order): swt = watched time / total
    /// duration, in [0, 1]; vtr = share of items watched at least halfway; wtr = any follow; ltr = any like.
    public static func labels(of session: some Collection<InteractionEvent>) -> [Float] {
        let watched = session.reduce(0.0) { $0 + Double($1.watchTimeMs) }
        let duration = session.reduce(0.0) { $0 + Double($1.durationMs) }
        let views = session.filter { $0.watchTimeMs * 2 >= $0.durationMs }.count
        return [Float(min(1, watched / max(duration, 1))), Float(views) / Float(max(session.count, 1)),
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
            examples.append(RewardExample(user: user, history: positives[user] ?? [], session: session.map(\.itemID), labels: labels(of: session)))
            positives[user, default: []] += session.filter(\.isPositive).map(\.itemID)
        }
        return examples
    }
}

/// Area under the ROC curve of scores against binary outcomes (ties count half); nil without both classes.
public func areaUnderCurve(scores: [Float], positives: [Bool]) -> Double? {
    let ranked = zip(scores, positives).sorted { $0.0 < $1.0 }
    let p = positives.filter { $0 }.count, n = positives.count - p
    guard p > 0 && n > 0 else { return nil }
    var rankSum = 0.0
    var i = 0
    while i < ranked.count {
        var j = i
        while j < ranked.count && ranked[j].0 == ranked[i].0 { j += 1 }
        let meanRank = Double(i + j + 1) / 2  // ranks i+1 ... j
        rankSum += meanRank * Double(ranked[i..<j].filter { $0.1 }.count)
        i = j
    }
    return (rankSum - Double(p * (p + 1)) / 2) / Double(p * n)
}
