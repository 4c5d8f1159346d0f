import Alignment
import Testing

@Suite struct RealSessionPairsTests {
    func session(_ user: UInt64, _ items: [UInt64], watch swt: Float, history: [UInt64] = []) -> RewardExample {
        RewardExample(user: user, history: history, session: items, labels: [swt, 0, 0, 0], positives: [])
    }

    /// Consecutive sessions of one user whose watch differs enough make a pair (the longer watched chosen,
    /// the first one's history the context); each session is in one pair at most; other users' sessions
    /// in between do not matter; too close a gap and empty sessions make none.
    @Test func consecutiveSessionsOfAUserWithClearlyDifferentWatchArePaired() {
        let log = [
            session(1, [1, 2], watch: 0.2, history: [9]), session(2, [3], watch: 0.9), session(1, [4, 5], watch: 0.6, history: [9, 1]),
            session(1, [6], watch: 0.1), session(2, [7], watch: 0.85), session(1, [], watch: 0.9), session(1, [8], watch: 0.15),
        ]
        let pairs = RealSessionPairs.make(from: log, minimumGap: 0.1)
        #expect(pairs.count == 1)
        let p = pairs[0]
        #expect(p.user == 1 && p.history == [9] && p.chosen == [4, 5] && p.rejected == [1, 2] && p.chosenReward == 0.6 && p.rejectedReward == 0.2)
    }
}
