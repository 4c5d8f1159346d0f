import Foundation
@testable import Alignment
import Testing

@Suite struct CanaryTests {
    /// Outcomes of `n` sessions with the given mean and standard deviation of watch time (seconds).
    func arm(_ n: Int, mean: Double, sd: Double, version: UInt32? = nil) -> SessionOutcomes {
        var o = SessionOutcomes(version: version)
        o.sessions = UInt64(n)
        o.watchSeconds = mean * Double(n)
        o.watchSquares = sd * sd * Double(n - 1) + mean * mean * Double(n)
        return o
    }

    func canary(_ change: (inout Canary.Settings) -> Void = { _ in }) -> Canary {
        var settings = Canary.Settings()
        settings.sessions = 1_000
        change(&settings)
        return Canary(id: 1, candidate: 5, controlAtStart: 4, settings: settings, startedAt: 0)
    }

    @Test func theQuantileIsTheNormalOne() {
        #expect(abs(Canary.normalQuantile(0.95) - 1.644854) < 1e-6)
        #expect(abs(Canary.normalQuantile(0.975) - 1.959964) < 1e-6)
        #expect(abs(Canary.normalQuantile(0.001) + 3.090232) < 1e-6)
    }

    @Test func anArmsStatisticsComeFromItsSums() {
        let o = arm(100, mean: 12, sd: 3)
        #expect(abs(o.watchPerSession - 12) < 1e-12 && abs(o.watchDeviation - 3) < 1e-12)
    }

    /// At the horizon: better by 1 s with sd 10 and 1,000 sessions an arm (z 2.24) promotes; better by
    /// 0.5 s (z 1.12) does not: rolled back, not better. Before it, nothing is decided unless clearly worse.
    @Test func theHorizonDecides() {
        var better = canary()
        #expect(better.decide(control: arm(999, mean: 10, sd: 10), candidate: arm(1_000, mean: 11, sd: 10), now: 60) == .running)
        #expect(better.decide(control: arm(1_000, mean: 10, sd: 10), candidate: arm(1_000, mean: 11, sd: 10), now: 60) == .promoted)
        #expect(abs(better.evidence!.z - 1 / (0.2).squareRoot() / 1) < 1e-9)
        #expect(better.reason!.hasPrefix("promoted") && better.decidedAt == 60)
        var slightly = canary()
        #expect(slightly.decide(control: arm(1_000, mean: 10, sd: 10), candidate: arm(1_000, mean: 10.5, sd: 10), now: 60) == .rolledBack)
        #expect(slightly.reason!.hasPrefix("rolled back: not better"))
    }

    @Test func aClearlyWorseCandidateStopsEarlyAndAnUndecidedOneAtItsDeadline() {
        var worse = canary()
        #expect(worse.decide(control: arm(199, mean: 10, sd: 2), candidate: arm(300, mean: 8, sd: 2), now: 60) == .running)  // too few to look
        #expect(worse.decide(control: arm(200, mean: 10, sd: 2), candidate: arm(300, mean: 8, sd: 2), now: 60) == .rolledBack)
        #expect(worse.reason!.hasPrefix("rolled back early"))
        var slow = canary { $0.maxHours = 1 }
        #expect(slow.decide(control: arm(500, mean: 10, sd: 10), candidate: arm(20, mean: 11, sd: 10), now: 3_599) == .running)
        #expect(slow.decide(control: arm(500, mean: 10, sd: 10), candidate: arm(20, mean: 11, sd: 10), now: 3_600) == .rolledBack)
        #expect(slow.reason!.contains("undecided"))
    }

    /// The stated false-promotion rate holds: 2,000 canaries whose arms come from one distribution
    /// (exponential watch times, mean 10 s; 300 sessions an arm, looked at every 50) promote 5% of the
    /// time or less, within sampling error; a candidate 30% better is promoted nearly always (the test's power there is about 93%).
    @Test func falsePromotionsStayAtTheStatedRate() {
        var rng = UInt64(0x5EED)
        func uniform() -> Double {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return (Double(rng >> 11) + 0.5) / Double(1 << 53)
        }
        func run(candidateMean: Double) -> Bool {
            var c = canary { ($0.sessions, $0.earlyLookSessions) = (300, 50) }
            var (control, candidate) = (SessionOutcomes(version: nil), SessionOutcomes(version: 5))
            for n in 1...300 {
                for (o, mean) in [(0, 10.0), (1, candidateMean)] {
                    let w = -mean * Foundation.log(uniform())
                    if o == 0 { (control.sessions, control.watchSeconds, control.watchSquares) = (control.sessions + 1, control.watchSeconds + w, control.watchSquares + w * w) }
                    else { (candidate.sessions, candidate.watchSeconds, candidate.watchSquares) = (candidate.sessions + 1, candidate.watchSeconds + w, candidate.watchSquares + w * w) }
                }
                if n % 50 == 0, c.decide(control: control, candidate: candidate, now: 1) != .running { break }
            }
            return c.state == .promoted
        }
        let falsePromotions = (0..<2_000).filter { _ in run(candidateMean: 10) }.count
        let promotions = (0..<200).filter { _ in run(candidateMean: 13) }.count
        print("canaries promoted: \(falsePromotions) of 2,000 with no true difference, \(promotions) of 200 with the candidate 30% better")
        #expect(falsePromotions <= 130, "\(falsePromotions) of 2,000")  // 5% is 100; sd about 10
        #expect(promotions >= 170, "\(promotions) of 200")
    }

    /// A user's arm is sticky within a canary, the share holds over many users, and another canary draws
    /// another set of users.
    @Test func armsAreStickyAndSized() {
        let first = canary { $0.share = 0.05 }
        let second = Canary(id: 2, candidate: 6, controlAtStart: 4, settings: first.settings, startedAt: 0)
        let users = (0..<100_000).map { UInt64($0) }
        let chosen = users.filter { first.servesCandidate(user: $0) }
        #expect((4_700...5_300).contains(chosen.count))
        #expect(chosen.allSatisfy { first.servesCandidate(user: $0) })
        let both = chosen.filter { second.servesCandidate(user: $0) }.count
        #expect(both < 600)  // independent draws: about 5% of 5,000
    }

    @Test func settingsOutOfRangeAreNamed() {
        var s = Canary.Settings()
        #expect(s.problem == nil)
        s.share = 1
        #expect(s.problem?.contains("share") == true)
    }
}
