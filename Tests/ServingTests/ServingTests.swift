import Alignment
import Engine
import Events
import Foundation
import Generator
import Logging
import Models
import SemanticIDs
import Serving
import Store
import TestSupport
import ModelSupport
import Testing

@Suite struct ModelRegistryTests {
    @Test func publishPromoteRollbackAndRestore() throws {
        let f = try ModelFixture()
        defer { f.dir.cleanup() }
        #expect(f.registry.snapshot == nil)
        try f.publish(seed: 1)
        try f.publish(seed: 2)
        try f.publish(seed: 3, promote: false)
        #expect(f.registry.snapshot?.version == 2)
        #expect(try f.registry.promotedStack() == [1, 2])
        try f.registry.promote(version: 3)
        #expect(f.registry.snapshot?.version == 3)
        #expect(try f.registry.rollback().version == 2)
        #expect(try f.registry.promotedStack() == [1, 2])

        // A restart (a new registry on the same store) serves the same version with the same outputs.
        let again = try ModelRegistry(store: f.store, directory: f.dir.path + "/models", logger: Logger(label: "test"))
        let restored = try #require(try again.restore())
        #expect(restored.version == 2)
        let a = f.registry.snapshot!.generate(history: [1, 2, 3], times: [0, 1_000, 2_000], items: 3, beam: 4, excluded: [1, 2, 3])
        let b = restored.generate(history: [1, 2, 3], times: [0, 1_000, 2_000], items: 3, beam: 4, excluded: [1, 2, 3])
        #expect(a.sessions == b.sessions)
    }

    @Test func aDamagedVersionIsRefusedAndTheOneBeforeServes() throws {
        let f = try ModelFixture()
        defer { f.dir.cleanup() }
        try f.publish(seed: 1)
        try f.publish(seed: 2)
        // Flip one byte in the middle of version 2's weights.
        let path = f.dir.path + "/models/generator-v2.safetensors"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))

        #expect(throws: (any Error).self) { try f.registry.promote(version: 2) }
        #expect(f.registry.snapshot?.version == 2)  // the in-memory snapshot keeps serving
        let again = try ModelRegistry(store: f.store, directory: f.dir.path + "/models", logger: Logger(label: "test"))
        #expect(try again.restore()?.version == 1)
    }

    @Test func rollbackNeedsAnEarlierVersion() throws {
        let f = try ModelFixture()
        defer { f.dir.cleanup() }
        try f.publish(seed: 1)
        #expect(throws: ModelStoreError.self) { try f.registry.rollback() }
    }

    @Test func oldUnpromotedVersionsArePruned() throws {
        let f = try ModelFixture()
        defer { f.dir.cleanup() }
        try f.publish(seed: 1)
        for seed in 2...6 { try f.publish(seed: UInt64(seed), promote: false) }
        let files = try FileManager.default.contentsOfDirectory(atPath: f.dir.path + "/models").filter { $0.hasSuffix(".safetensors") }.sorted()
        // keep = 3: the newest three plus the promoted version 1.
        #expect(files == ["generator-v1.safetensors", "generator-v4.safetensors", "generator-v5.safetensors", "generator-v6.safetensors"])
        // keepRecords = 4: the newest four records plus the promoted version 1; numbering goes on.
        #expect(try f.registry.versions().map(\.version) == [1, 3, 4, 5, 6])
        #expect(try f.registry.nextVersion() == 7)
        // Version 3 keeps its record but not its file: promoting or canarying it says so.
        for attempt in [{ _ = try f.registry.promote(version: 3) }, { _ = try f.registry.startCanary(version: 3, settings: Canary.Settings()) }] {
            #expect { try attempt() } throws: { ($0 as? ModelStoreError)?.description.contains("version 3's file was deleted") == true }
        }
    }
}

@Suite struct RecommenderTests {
    func events(user: UInt64, items: [UInt64]) -> [Event] {
        items.enumerated().map { i, item in
            .interaction(InteractionEvent(eventID: "e-\(user)-\(item)", userID: user, itemID: item, timestampMs: 1_790_000_000_000 + Int64(i),
                                          requestID: "r-\(user)", position: i, watchTimeMs: 9_000, durationMs: 10_000))
        }
    }

    @Test func unknownUsersGetPopularItemsAndKnownOnesAGeneratedSession() async throws {
        let f = try ModelFixture()
        defer { f.dir.cleanup() }
        let popular = PopularItems()
        popular.observe([7, 7, 7, 8, 8, 9])
        let pool = DecodePool(workers: 1, queueLimit: 4)
        defer { pool.close() }
        let recommender = Recommender(history: f.history, registry: f.registry, popular: popular, pool: pool)

        // No model yet: popular, nothing seen excluded.
        try f.history.apply(events(user: 1, items: [7, 3]), offsets: [:])
        let early = try await recommender.recommend(user: 1, count: 2)
        #expect(early.source == .popular && early.items == [8, 9] && early.modelVersion == nil)

        try f.publish(seed: 4)
        let unknown = try await recommender.recommend(user: 99, count: 3)
        #expect(unknown.source == .popular && unknown.items == [7, 8, 9])
        let known = try await recommender.recommend(user: 1, count: 4)
        #expect(known.source == .generator && known.modelVersion == 1)
        #expect(known.items.count == 4 && Set(known.items).count == 4)
        #expect(!known.items.contains(7) && !known.items.contains(3))  // seen items are not recommended again
        #expect(known.items.allSatisfy { f.codebook.code(of: $0) != nil })
    }

    /// Promotion while requests run: every request succeeds, each answer comes from one version.
    @Test func promotionUnderLoadFailsNoRequest() async throws {
        let f = try ModelFixture()
        defer { f.dir.cleanup() }
        let pool = DecodePool(workers: 2, queueLimit: 64)
        defer { pool.close() }
        let recommender = Recommender(history: f.history, registry: f.registry, popular: PopularItems(), pool: pool)
        for user in 0..<8 { try f.history.apply(events(user: UInt64(user), items: [UInt64(user), UInt64(user + 10)]), offsets: [:]) }
        try f.publish(seed: 1)
        let versions = try await withThrowingTaskGroup(of: [UInt32].self) { group in
            for client in 0..<4 {
                group.addTask {
                    var seen: [UInt32] = []
                    for i in 0..<15 {
                        let r = try await recommender.recommend(user: UInt64((client + i) % 8), count: 3)
                        #expect(r.source == .generator && r.items.count == 3)
                        seen.append(r.modelVersion!)
                    }
                    return seen
                }
            }
            group.addTask {
                for seed in 2...4 {
                    try f.publish(seed: UInt64(seed))
                    try await Task.sleep(for: .milliseconds(20))
                }
                return []
            }
            return try await group.reduce(into: Set<UInt32>()) { $0.formUnion($1) }
        }
        #expect(versions.isSubset(of: [1, 2, 3, 4]))
        #expect(f.registry.snapshot?.version == 4)
    }
}

@Suite struct DecodePoolTests {
    @Test func aFullQueueIsRefusedNotWaitedFor() async throws {
        let pool = DecodePool(workers: 1, queueLimit: 1)
        defer { pool.close() }
        let gate = DispatchSemaphore(value: 0)
        async let first: Int = pool.run { gate.wait(); return 1 }
        while pool.waiting > 0 { try await Task.sleep(for: .milliseconds(1)) }  // the worker has taken it
        async let second: Int = pool.run { 2 }  // waits in the queue
        while pool.waiting == 0 { try await Task.sleep(for: .milliseconds(1)) }
        await #expect(throws: Overloaded.self) { try await pool.run { 3 } }
        gate.signal()
        #expect(try await first + second == 3)
    }

    /// Closing lets what is queued finish and refuses what comes after (the daemon closes its pool when it
    /// stops).
    @Test func closingFinishesTheQueueAndRefusesNewWork() async throws {
        let pool = DecodePool(workers: 1, queueLimit: 2)
        let gate = DispatchSemaphore(value: 0)
        async let first: Int = pool.run { gate.wait(); return 1 }
        while pool.waiting > 0 { try await Task.sleep(for: .milliseconds(1)) }
        async let second: Int = pool.run { 2 }
        while pool.waiting == 0 { try await Task.sleep(for: .milliseconds(1)) }
        pool.close()
        await #expect(throws: Overloaded.self) { try await pool.run { 3 } }
        gate.signal()
        #expect(try await first + second == 3)
    }
}

@Suite struct PopularItemsTests {
    @Test func ranksByDecayedCountsAndExcludes() {
        let popular = PopularItems(halfLife: 4, depth: 10)
        popular.observe([1, 1, 1, 2])  // halving after the 4th: 1 -> 1.5, 2 -> 0.5
        popular.observe([2, 2])        // 2 -> 2.5
        #expect(popular.top(2) == [2, 1])
        #expect(popular.top(5, excluding: [2]) == [1])
    }
}

@Suite struct CanaryServingTests {
    /// A canary serves its candidate to its share of users and the promoted version to the rest, each
    /// answer recorded with its arm; it survives a restart of the registry; stopped mid-way, every user
    /// gets the promoted version again; a promoted one serves everyone. Its candidate's file is kept
    /// while it runs, however many versions are published meanwhile.
    @Test func aCanarySplitsUsersAndEndsAsItsDecisionSays() async throws {
        let f = try ModelFixture()
        defer { f.dir.cleanup() }
        try f.publish(seed: 1)
        try f.publish(seed: 2, promote: false)
        let served = try f.store.served()
        let pool = DecodePool(workers: 1, queueLimit: 8)
        defer { pool.close() }
        let recommender = Recommender(history: f.history, registry: f.registry, popular: PopularItems(), pool: pool, served: served)
        for user in 0..<40 { try f.history.apply(RecommenderTests().events(user: UInt64(user), items: [UInt64(user % 50)]), offsets: [:]) }

        #expect(throws: ModelStoreError.self) { try f.registry.startCanary(version: 1, settings: Canary.Settings()) }  // serves already
        var settings = Canary.Settings()
        settings.share = 0.5
        let canary = try f.registry.startCanary(version: 2, settings: settings)
        #expect(throws: ModelStoreError.self) { try f.registry.startCanary(version: 2, settings: settings) }  // one at a time
        for seed in 3...8 { try f.publish(seed: UInt64(seed)) }  // the control moves on; the candidate's file stays
        #expect(FileManager.default.fileExists(atPath: f.dir.path + "/models/generator-v2.safetensors"))

        var versions: [UInt64: UInt32] = [:]
        for user in 0..<40 { versions[UInt64(user)] = try await recommender.recommend(user: UInt64(user), count: 2).modelVersion }
        for (user, version) in versions { #expect(version == (canary.servesCandidate(user: user) ? 2 : 8)) }
        #expect(Set(versions.values) == [2, 8])
        try served.flush()
        let arms = try served.arms(canary: canary.id, candidate: 2)
        #expect(arms.control.requests + arms.candidate.requests == 40 && arms.candidate.requests == UInt64(versions.values.filter { $0 == 2 }.count))

        // A restarted registry serves the same canary.
        let again = try ModelRegistry(store: f.store, directory: f.dir.path + "/models", keep: 3, keepRecords: 4, logger: Logger(label: "test"))
        try again.restore()
        #expect(again.canary?.canary == canary && again.canary?.snapshot.version == 2)

        let stopped = try f.registry.stopCanary(reason: "test")
        #expect(stopped.state == .stopped && f.registry.canary == nil && f.registry.snapshot?.version == 8)
        for user in 0..<40 { #expect(try await recommender.recommend(user: UInt64(user), count: 2).modelVersion == 8) }

        var second = try f.registry.startCanary(version: 2, settings: settings)
        #expect(second.id == 2)
        second.decide(control: SessionOutcomes(version: nil), candidate: SessionOutcomes(version: 2), now: second.startedAt + 25 * 3600)
        #expect(second.state == .rolledBack)
        try f.registry.record(look: second)
        #expect(f.registry.canary == nil && f.registry.snapshot?.version == 8)
        #expect(try f.registry.canaries().map(\.state) == [.stopped, .rolledBack])

        var third = try f.registry.startCanary(version: 2, settings: settings)
        var (control, candidate) = (SessionOutcomes(version: nil), SessionOutcomes(version: 2))
        (control.sessions, control.watchSeconds, control.watchSquares) = (2_000, 20_000, 2_000 * 200)
        (candidate.sessions, candidate.watchSeconds, candidate.watchSquares) = (2_000, 24_000, 2_000 * 244)
        #expect(third.decide(control: control, candidate: candidate, now: third.startedAt + 60) == .promoted)
        try f.registry.record(look: third)
        #expect(try f.registry.canary == nil && f.registry.snapshot?.version == 2 && f.registry.promotedStack().last == 2)
    }
}

/// A version moved from one node's registry to another's, as the models topic moves it.
@Suite struct ReceivedVersionTests {
    @Test func aReceivedVersionServesOnceAdoptedWithTheSameOutputs() throws {
        let (train, serve) = (try ModelFixture(), try ModelFixture())
        defer { train.dir.cleanup(); serve.dir.cleanup() }
        try train.publish(seed: 1)
        try train.publish(seed: 2)
        #expect(try train.registry.versionsOnDisk() == [1, 2])
        for version in try train.registry.versionsOnDisk() {
            let e = try train.registry.exported(version: version)
            #expect(try serve.registry.receive(info: e.info, file: e.file, codebook: Codebook(encoded: e.codebook.encoded())))
            #expect(try !serve.registry.receive(info: e.info, file: e.file, codebook: e.codebook))  // here already
        }
        #expect(serve.registry.snapshot == nil)  // received, not yet promoted
        #expect(try serve.registry.adopt(stack: [1, 2]))
        #expect(try !serve.registry.adopt(stack: [1, 2]))
        #expect(serve.registry.snapshot?.version == 2)
        #expect(try serve.registry.promotedStack() == [1, 2])
        let a = train.registry.snapshot!.generate(history: [1, 2, 3], times: [0, 1, 2], items: 3, beam: 4, excluded: [1, 2, 3])
        let b = serve.registry.snapshot!.generate(history: [1, 2, 3], times: [0, 1, 2], items: 3, beam: 4, excluded: [1, 2, 3])
        #expect(a.sessions == b.sessions)
        // A rollback on the train node is a shorter stack; a restart serves what was adopted.
        #expect(try serve.registry.adopt(stack: [1]))
        #expect(serve.registry.snapshot?.version == 1)
        let again = try ModelRegistry(store: serve.store, directory: serve.dir.path + "/models", logger: Logger(label: "test"))
        #expect(try again.restore()?.version == 1)
    }

    @Test func damagedOrMissingVersionsAreRefusedAndLeaveNothingBehind() throws {
        let (train, serve) = (try ModelFixture(), try ModelFixture())
        defer { train.dir.cleanup(); serve.dir.cleanup() }
        try train.publish(seed: 1)
        let e = try train.registry.exported(version: 1)
        var damaged = e.file
        damaged[damaged.count / 2] ^= 0xFF
        #expect(throws: ModelStoreError.self) { try serve.registry.receive(info: e.info, file: damaged, codebook: e.codebook) }
        var otherVersion = e.info
        otherVersion.version = 5
        #expect { try serve.registry.receive(info: otherVersion, file: e.file, codebook: e.codebook) } throws: {
            ($0 as? ModelStoreError)?.description.contains("is not that version") == true
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: serve.dir.path + "/models").isEmpty)
        #expect(try serve.registry.versions().isEmpty)
        #expect { try serve.registry.adopt(stack: [1]) } throws: { ($0 as? ModelStoreError)?.description.contains("not been received") == true }
        #expect(serve.registry.snapshot == nil)
    }

    @Test func changesAreAnnounced() async throws {
        let f = try ModelFixture()
        defer { f.dir.cleanup() }
        var changes = f.registry.changes.makeAsyncIterator()
        try f.publish(seed: 1)
        try f.publish(seed: 2)  // two changes before the reader looks: one wake-up
        #expect(await changes.next() != nil)
        try f.registry.rollback()
        #expect(await changes.next() != nil)
    }
}
