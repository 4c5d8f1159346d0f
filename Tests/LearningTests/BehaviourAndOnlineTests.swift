import Engine
import Events
import Foundation
import Generator
@testable import Learning
import Logging
import Models
import SemanticIDs
import Serving
import Store
import TestSupport
import Testing

/// The learner on a log whose items carry no embeddings: 3 groups of 20 items, each user watching
/// items of one group only, so behaviour alone tells the groups apart.
@Suite(.serialized) struct BehaviourCodebookTests {
    struct Planted {
        let dir = TempDirectory()
        let store: OpenStore
        let history: HistoryStore
        var registry: ModelRegistry
        var sent = 0

        init(users: Int = 90, perUser: Int = 24) throws {
            store = try OpenStore.forWriting(path: dir.path + "/store", mapSizeMiB: 16, holder: "test")
            history = try store.history()
            registry = try ModelRegistry(store: store, directory: dir.path + "/models", logger: Logger(label: "test"))
            try registry.restore()
            var rng = SplitMix64(seed: 7)
            var events: [Event] = []
            for n in 0..<perUser {
                for user in 0..<users {
                    let item = UInt64(20 * (user % 3) + 1) + rng.next() % 20
                    events.append(.interaction(interaction(UInt64(user + 1), item, request: "u\(user)-\(n / 4)", position: n % 4, at: Int64(n * 60_000 + user))))
                }
            }
            try history.apply(events, offsets: [:])
            sent = events.count
        }

        /// More positives, of `items` by the users of group 0, after the others.
        mutating func add(items: [UInt64], perUser: Int) throws {
            var events: [Event] = []
            for n in 0..<perUser {
                for user in stride(from: 0, to: 90, by: 3) {
                    events.append(.interaction(interaction(UInt64(user + 1), items[n % items.count], request: "late-u\(user)-\(n)", position: 0,
                                                           at: Int64(10_000_000 + n * 60_000 + user))))
                    events.append(.interaction(interaction(UInt64(user + 1), UInt64(1 + (n + user) % 20), request: "late-u\(user)-\(n)", position: 1,
                                                           at: Int64(10_000_000 + n * 60_000 + user + 1))))
                }
            }
            try history.apply(events, offsets: [:])
            sent += events.count
        }

        func learner(_ config: LearnerConfig) throws -> Learner {
            try Learner(config: config, store: store, registry: registry, popular: PopularItems(), directory: dir.path + "/trainer",
                        logger: Logger(label: "test"))
        }
    }

    static var config: LearnerConfig {
        var c = LearnerTests.config
        c.generator = Seq2Seq.Config.preset("tiny", architecture: .lazy)!
        c.minimumPositives = 1_000
        c.minimumSessions = 50
        c.freshWindow = 50
        c.recipe.batch = 8
        c.recipe.warmupSteps = 5
        return c
    }

    @Test func itemsWithoutEmbeddingsGetABehaviourCodebookThatKeepsTheGroupsApart() throws {
        let s = try Planted()
        defer { s.dir.cleanup() }
        let learner = try s.learner(Self.config)
        try learner.start()
        #expect(learner.codebook == nil && learner.status.snapshot.phase.contains("1000 positive interactions (have \(s.sent))"))
        for _ in 0..<400 where learner.status.snapshot.steps < 160 { _ = try learner.tick() }
        let status = learner.status.snapshot
        #expect(status.codebookSource == "behaviour" && status.codedItems == 60 && status.uncodedPositiveShare == 0)
        let book = try #require(learner.codebook)
        #expect(book.levels == 2)
        // Every first-level code holds items of one group.
        var groups: [Int32: Set<UInt64>] = [:]
        for item in UInt64(1)...60 { groups[book.code(of: item)![0], default: []].insert((item - 1) / 20) }
        let pure = groups.values.filter { $0.count == 1 }.count
        #expect(Double(pure) / Double(groups.count) >= 0.9, "\(groups)")
        // The version serves users items of their own group, ranked as single items.
        let served = try #require(learner.registry.snapshot)
        #expect(served.info.sessionItems == 1 && served.info.metrics[Learner.trainedThrough] != nil)
        let (history, times) = learner.feed.sequences.history(of: 1)
        let answer = try #require(served.recommend(history: history, times: times, count: 5, beam: 8, excluded: Set(history)))
        #expect(answer.items.count == 5 && Set(answer.items).count == 5)
        #expect(answer.items.filter { $0 <= 20 }.count >= 3, "\(answer.items)")
    }

    /// Items that arrive after the codebook get codes once they co-occur with coded items, without a rebuild.
    @Test func newItemsAreCodedFromTheirCoOccurrences() throws {
        var s = try Planted()
        defer { s.dir.cleanup() }
        let learner = try s.learner(Self.config)
        try learner.start()
        for _ in 0..<20 where learner.codebook == nil { _ = try learner.tick() }
        let book = try #require(learner.codebook)
        try s.add(items: [61, 62, 63], perUser: 6)
        for _ in 0..<20 where book.code(of: 61) == nil { _ = try learner.tick() }
        for item: UInt64 in [61, 62, 63] { #expect(book.code(of: item) != nil, "item \(item) has no code") }
        #expect(learner.codebook?.version == 1)
    }

    /// Test-then-train: a sampled positive is tested only against a version that has not read it. A
    /// learner that reads the log from the start beside a version trained through entry W skips the
    /// entries up to W and tests the later ones; a restart re-reads the log without testing anything.
    @Test func theOnlineTestNeverScoresWhatTheServingVersionLearnedFrom() throws {
        var s = try Planted()
        defer { s.dir.cleanup() }
        var config = Self.config
        config.onlineSampleShare = 1
        let trained = try s.learner(config)
        try trained.start()
        for _ in 0..<200 where trained.registry.snapshot == nil { _ = try trained.tick() }
        let version = try #require(trained.registry.snapshot)
        let through = Int(version.info.metrics[Learner.trainedThrough]!)
        #expect(through == s.sent)
        try s.add(items: [5, 6], perUser: 2)
        let later = s.sent - through

        // A learner that has not read the log yet: one tick reads every entry, testing each against the version.
        let fresh = try s.learner(config)
        _ = try fresh.tick()
        #expect(fresh.status.snapshot.eventsRead == UInt64(s.sent))
        let online = try #require(fresh.status.snapshot.online)
        // Each of the 90 users' first positive finds no history: popular items answer it, no version is involved.
        #expect(online.skipped == through - 90 && online.served.tested == later + 90, "skipped \(online.skipped), tested \(online.served.tested)")
        #expect(online.versions.map(\.version) == [version.version] && online.versions[0].model.tested == later)
        #expect(online.popular.tested == later + 90 && online.windows.reduce(0) { $0 + $1.served.tested } == later + 90)

        // A restart reads the log again and tests nothing of it.
        let restarted = try s.learner(config)
        try restarted.start()
        _ = try restarted.tick()
        #expect(restarted.status.snapshot.online?.served.tested == 0 && restarted.status.snapshot.online?.skipped == 0)
    }
}

@Suite struct OnlineAccuracyTests {
    /// Windows of event time, their totals, and the newest windows holding a share of the tests.
    @Test func windowsTotalsAndTheNewestShare() {
        var online = OnlineAccuracy(windowSeconds: 60)
        // Window 0: 4 tests, served hits 1 (rank 1); window 1: 2 tests, served hits 2 (ranks 2 and 11: one hit).
        for rank in [1, nil, nil, nil] as [Int?] { online.add(timeMs: 10_000, served: rank, version: nil, popular: nil) }
        online.add(timeMs: 70_000, served: 2, version: 3, popular: 1)
        online.add(timeMs: 80_000, served: 11, version: 3, popular: nil)
        #expect(online.windows.map(\.start) == [0, 60] && online.served.tested == 6 && online.served.hits == 2)
        let last = online.newest(share: 0.25)
        #expect(last.served.tested == 2 && last.served.hits == 1 && last.popular.hits == 1)
        #expect(online.newest(share: 0.5).served.tested == 6)
        #expect(online.versions.map(\.version) == [3] && online.versions[0].model.tested == 2)
    }
}
