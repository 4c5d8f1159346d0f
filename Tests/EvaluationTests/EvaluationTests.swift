import Evaluation
import Foundation
import Testing

@Suite struct EvaluationTests {
    @Test func leaveOneOutKeepsTheOrder() {
        let split = LeaveOneOut(histories: [[5, 6, 7, 8], [1, 2], [9, 3, 4]])
        #expect(split.users.count == 2)
        #expect(split.users[0].train == [5, 6] && split.users[0].validation == 7 && split.users[0].test == 8)
        #expect(split.users[1].train == [9] && split.users[1].test == 4)
    }

    @Test func metricsByHand() {
        var m = RankingMetrics()
        m.add(rank: 1)   // hits everywhere, DCG 1
        m.add(rank: 3)   // hits at 5, 10, 50; DCG 1/log2(4) = 0.5
        m.add(rank: 20)  // hit at 50 only; DCG 1/log2(21)
        m.add(rank: nil)
        #expect(m.hitRate(1) == 0.25 && m.hitRate(5) == 0.5 && m.hitRate(10) == 0.5 && m.hitRate(50) == 0.75)
        #expect(abs(m.ndcg(5) - 1.5 / 4) < 1e-12)
        #expect(abs(m.ndcg(50) - (1.5 + 1 / log2(21.0)) / 4) < 1e-12)
    }
}
