import Engine
import Generator
@testable import Learning
import ModelSupport
import TestSupport
import Testing

/// Fresh and replayed windows of whole-sequence training.
@Suite struct TrainingSequencesTests {
    /// A log read in bulk: each user with new positives is taken fresh once, then batches are replay; a
    /// positive that arrives later is in a batch soon (its user's newest window ends with it).
    @Test func freshUsersAreTakenOnceAndNewPositivesSoon() throws {
        let fixture = try ModelFixture()
        defer { fixture.dir.cleanup() }
        let tokenizer = ItemTokenizer(codebook: fixture.codebook)
        var sequences = TrainingSequences(maxHistory: 5, cap: 20, capacity: 10_000, freshUsers: 1_000)
        var rng = SplitMix64(seed: 3)
        for n in 0..<10 {
            for user in UInt64(1)...100 { sequences.append(user: user, item: (user * 7 + UInt64(n)) % 60, timeMs: Int64(n * 1_000)) }
        }
        #expect(sequences.freshCount == 100)
        // Each refill draws 8 batches of 8 windows, 4 of each fresh while users wait: 32 users a refill.
        var batches = 0
        while sequences.freshCount > 0 {
            #expect(!sequences.batch(8, freshShare: 0.5, codedBy: tokenizer, rng: &rng).sequences.isEmpty)
            batches += 1
        }
        #expect(batches == 25, "100 users at 32 a refill of 8 batches: the fourth refill takes the last 4")
        sequences.append(user: 7, item: 59, timeMs: 20_000)
        #expect(sequences.freshCount == 1)
        var found = false
        for _ in 0..<16 where !found {
            found = sequences.batch(8, freshShare: 0.5, codedBy: tokenizer, rng: &rng).sequences.contains { $0.last == 59 && $0.count == 6 }
        }
        #expect(found && sequences.freshCount == 0)
    }

    /// Past twice `freshUsers` waiting, the oldest are dropped down to the newest `freshUsers` (they are
    /// still replayed); a user already waiting does not wait twice.
    @Test func theWaitingRoomKeepsTheNewestUsers() {
        var sequences = TrainingSequences(maxHistory: 5, cap: 20, capacity: 10_000, freshUsers: 10)
        for user in UInt64(1)...21 { sequences.append(user: user, item: 1, timeMs: 0) }
        #expect(sequences.freshCount == 10)  // 12...21
        for user in UInt64(12)...21 { sequences.append(user: user, item: 2, timeMs: 1) }
        #expect(sequences.freshCount == 10)
        for user in UInt64(1)...11 { sequences.append(user: user, item: 2, timeMs: 1) }
        #expect(sequences.freshCount == 10)  // 21 waiting, trimmed to 2...11
        for user in UInt64(12)...19 { sequences.append(user: user, item: 3, timeMs: 2) }
        #expect(sequences.freshCount == 18)
    }
}
