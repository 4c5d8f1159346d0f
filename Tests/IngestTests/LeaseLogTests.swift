import Ingest
import Testing

/// The lease as the log decides it: every reader applying the same records agrees on one leader per epoch.
@Suite struct LeaseLogTests {
    @Test func theFirstClaimAgainstTheLeaderWinsAndItsOffsetIsTheEpoch() {
        var log = LeaseLog()
        #expect(log.apply(LeaseRecord(kind: .claim, node: "a", epoch: -1), at: 0) == .accepted(epoch: 0))
        #expect(log.apply(LeaseRecord(kind: .claim, node: "b", epoch: -1), at: 1) == .rejected)  // a leads already
        #expect(log.apply(LeaseRecord(kind: .heartbeat, node: "a", epoch: 0), at: 2) == .leaderAlive)
        // a goes silent; b and c both claim against epoch 0: b is first in the log.
        #expect(log.apply(LeaseRecord(kind: .claim, node: "b", epoch: 0), at: 7) == .accepted(epoch: 7))
        #expect(log.apply(LeaseRecord(kind: .claim, node: "c", epoch: 0), at: 8) == .rejected)
        #expect(log.leader?.node == "b" && log.leader?.epoch == 7)
        // The deposed leader's heartbeat changes nothing.
        #expect(log.apply(LeaseRecord(kind: .heartbeat, node: "a", epoch: 0), at: 9) == .ignored)
        #expect(log.leader?.node == "b")
    }

    @Test func aReleaseLetsTheNextClaimFollowAtOnce() {
        var log = LeaseLog()
        _ = log.apply(LeaseRecord(kind: .claim, node: "a", epoch: -1), at: 3)
        #expect(!log.released)
        #expect(log.apply(LeaseRecord(kind: .release, node: "a", epoch: 3), at: 4) == .leaderAlive)
        #expect(log.released)
        #expect(log.apply(LeaseRecord(kind: .claim, node: "b", epoch: 3), at: 5) == .accepted(epoch: 5))
        #expect(!log.released)
        // Someone else's release of b's epoch is not b's.
        #expect(log.apply(LeaseRecord(kind: .release, node: "a", epoch: 5), at: 6) == .ignored)
        #expect(!log.released)
    }
}
