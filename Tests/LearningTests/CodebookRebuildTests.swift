import Engine
import Events
import Foundation
import Generator
@testable import Learning
import Models
import SemanticIDs
import Serving
import Store
import Synchronization
import TestSupport
import Testing

/// Codebook rebuilds with model continuity: the planted three groups, then a fourth group of new users
/// who watch only new items (so no co-occurrence codes them), while requests are served throughout.
@Suite(.serialized) struct CodebookRebuildTests {
    /// `rounds` positives each of 30 new users (91...120) on 20 new items (61...80), from `start` ms.
    static func newGroup(_ s: inout BehaviourCodebookTests.Planted, rounds: Range<Int>, start: Int64) throws {
        var rng = SplitMix64(seed: 11 &+ UInt64(rounds.lowerBound))
        var events: [Event] = []
        for n in rounds {
            for user in UInt64(91)...120 {
                events.append(.interaction(interaction(user, 61 + rng.next() % 20, request: "new-u\(user)-\(n / 4)", position: n % 4,
                                                       at: start + Int64(n * 60_000) + Int64(user))))
            }
        }
        try s.history.apply(events, offsets: [:])
        s.sent += events.count
    }

    /// A successor starts from the serving generator's layers; code embeddings, head and item-ID rows are its own.
    @Test func aSuccessorStartsFromTheServingLayers() {
        var c = Seq2Seq.Config.preset("tiny", architecture: .lazy)!
        (c.vocabulary, c.itemVocabulary) = (40, 30)
        let (serving, successor) = (Seq2Seq(config: c, seed: 1), Seq2Seq(config: c, seed: 2))
        let copied = CodebookSuccessor.warmStart(successor, from: serving)
        let (a, b) = (serving.parameters.named, successor.parameters.named)
        #expect(copied == a.count - 3)
        for (name, t) in b {
            let same = (0..<t.count).allSatisfy { t.data[$0] == a[name]!.data[$0] }
            #expect(same == !CodebookSuccessor.codebookBound.contains(name) || name == "context.items", "\(name)")
        }
    }

    @Test func aRebuildTakesOverOnTheOnlineTestWhileEveryAnswerKeepsOneCodebook() async throws {
        var s = try BehaviourCodebookTests.Planted()
        defer { s.dir.cleanup() }
        var config = BehaviourCodebookTests.config
        config.onlineSampleShare = 1
        config.rebuild.tests = 40
        let learner = try s.learner(config)
        try learner.start()
        for _ in 0..<400 where learner.registry.snapshot == nil { _ = try learner.tick() }
        let first = try #require(learner.codebook)
        #expect(first.version == 1 && learner.registry.snapshot?.info.codebookVersion == 1)

        // Requests all along (until 20 answers of the new codebook's version): every answer comes whole from
        // one version, and each of its items has a code in that version's own codebook as stored.
        let registry = learner.registry
        let codebooks = try s.store.codebooks()
        let answered = Atomic<Int>(0)
        let serving = Task.detached { () -> (answers: Int, failed: Int, foreign: Int, versions: Set<UInt32>) in
            var (answers, failed, foreign, versions) = (0, 0, 0, Set<UInt32>())
            var books: [UInt32: Codebook] = [:]
            var user: UInt64 = 0
            var afterSwitch = 0
            while !Task.isCancelled && afterSwitch < 20 {
                guard let snapshot = registry.snapshot else { continue }
                user = user % 120 + 1
                let history: [UInt64] = user > 90 ? [61, 62, 63] : [1, 2, 3]
                guard let answer = snapshot.recommend(history: history, times: [0, 1, 2], count: 5, beam: 8, excluded: Set(history)) else {
                    failed += 1
                    continue
                }
                let v = snapshot.info.codebookVersion
                if books[v] == nil { books[v] = try? codebooks.load(version: v) }
                foreign += answer.items.filter { books[v]?.code(of: $0) == nil }.count
                (answers, versions) = (answers + 1, versions.union([v]))
                answered.add(1, ordering: .relaxed)
                if v == 2 { afterSwitch += 1 }
            }
            return (answers, failed, foreign, versions)
        }
        while answered.load(ordering: .relaxed) == 0 { await Task.yield() }

        // The new group: a quarter of the positives on items no codebook has seen, and nothing they
        // co-occur with is coded, so the share passes 5% and the next codebook is built.
        try Self.newGroup(&s, rounds: 0..<12, start: 20_000_000)
        for _ in 0..<400 where learner.successor?.snapshot == nil { _ = try learner.tick() }
        let successor = try #require(learner.successor)
        #expect(successor.codebook.version == 2 && (61...80).allSatisfy { successor.codebook.code(of: $0) != nil })
        #expect(learner.codebook?.version == 1 && (61...80).allSatisfy { first.code(of: $0) == nil })
        #expect(try codebooks.currentVersion() == 1, "the successor's codebook is stored, not current")
        #expect(learner.status.snapshot.successor?.codebookVersion == 2)

        // More of the new group, each positive tested on both before it is learned from: the successor
        // recommends their items, the serving version cannot, and it takes over.
        for round in 0..<20 where learner.successor != nil {
            try Self.newGroup(&s, rounds: (12 + 2 * round)..<(14 + 2 * round), start: 20_000_000)
            for _ in 0..<40 where learner.successor != nil { _ = try learner.tick() }
        }
        #expect(learner.successor == nil && learner.codebook?.version == 2 && learner.keeper.source == .behaviour)
        #expect(try codebooks.currentVersion() == 2)
        let took = try #require(learner.status.snapshot.rebuilds.last)
        #expect(took.hasPrefix("codebook 2 took over from 1 after"), "\(took)")
        let now = try #require(learner.registry.snapshot)
        #expect(now.info.codebookVersion == 2)
        let (history, times) = learner.feed.sequences.history(of: 95)
        let answer = try #require(now.recommend(history: history, times: times, count: 5, beam: 8, excluded: Set(history)))
        #expect(answer.items.contains { (61...80).contains($0) }, "\(answer.items)")

        if now.info.codebookVersion != 2 { serving.cancel() }
        let served = await serving.value
        #expect(served.versions == [1, 2] && served.failed == 0 && served.foreign == 0, "\(served)")

        // A restart goes on with the new codebook and the checkpoint written at the switch.
        let restarted = try s.learner(config)
        try restarted.start()
        #expect(restarted.codebook?.version == 2 && restarted.models?.generator.optimizer.step == learner.models?.generator.optimizer.step)
    }
}
