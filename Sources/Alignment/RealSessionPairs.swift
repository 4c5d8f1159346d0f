/// Preference pairs from what users did, not from a reward model (OneRec-V2's direction: learn from real
/// feedback): of two consecutive logged sessions of one user, from nearly the same context, the one
/// watched clearly longer is `chosen` and the other `rejected`; the context is the history before the
/// first. Rewards in the pair are the sessions' swt labels (w / (w + 60 s) of watch time w).
public enum RealSessionPairs {
    /// Pairs from `examples` (in log order; sessions of each user oldest first), where the two sessions'
    /// swt labels differ by at least `minimumGap` and neither is empty; at most one pair per session.
    public static func make(from examples: [RewardExample], minimumGap: Float = 0.1, round: Int = 0) -> [PreferencePair] {
        var last: [UInt64: RewardExample] = [:]
        var pairs: [PreferencePair] = []
        for e in examples where !e.session.isEmpty {
            guard let previous = last[e.user], abs(previous.labels[0] - e.labels[0]) >= minimumGap else {
                last[e.user] = e
                continue
            }
            let (chosen, rejected) = previous.labels[0] > e.labels[0] ? (previous, e) : (e, previous)
            pairs.append(PreferencePair(round: round, user: e.user, history: previous.history, chosen: chosen.session, rejected: rejected.session,
                                        chosenReward: chosen.labels[0], rejectedReward: rejected.labels[0], moreRejected: [],
                                        historyGaps: previous.historyGaps))
            last[e.user] = nil  // both sessions are used: the next pair starts from the session after them
        }
        return pairs
    }
}
