import Alignment
import Engine
import Events
import Foundation
import Generator
@testable import Learning
import Logging
import Models
import SemanticIDs
import Serving
import Simulator
import Store
import TestSupport
import Testing

func interaction(_ user: UInt64, _ item: UInt64, request: String, position: Int, at ms: Int64, watched: Int64 = 9_000) -> InteractionEvent {
    InteractionEvent(eventID: "\(request)-\(position)", userID: user, itemID: item, timestampMs: ms, requestID: request, position: position,
                     watchTimeMs: watched, durationMs: 10_000)
}

@Suite struct SessionAssemblerTests {
    @Test func sessionsCloseWhenFullOnTheNextRequestOrAfterTheGap() {
        var a = SessionAssembler(sessionItems: 3, historyCap: 4, gapMs: 1_000)
        // User 1: a full session of 3 closes at once; positives (watched >= half) join the history.
        var done = a.add([interaction(1, 10, request: "a", position: 0, at: 0), interaction(1, 11, request: "a", position: 1, at: 1, watched: 1_000),
                          interaction(1, 12, request: "a", position: 2, at: 2)])
        #expect(done.count == 1 && done[0].history.isEmpty && done[0].events.map(\.itemID) == [10, 11, 12])
        #expect(a.histories[1] == [10, 12])
        // User 2: an unfinished session closes when the next request starts, with the history before it.
        done = a.add([interaction(2, 20, request: "b", position: 0, at: 10), interaction(2, 21, request: "c", position: 0, at: 20)])
        #expect(done.map(\.events.count) == [1] && done[0].events[0].requestID == "b")
        // Positions sort the events even if they arrive out of order; the gap closes a quiet session.
        done = a.add([interaction(1, 14, request: "d", position: 1, at: 30), interaction(1, 13, request: "d", position: 0, at: 31)])
        #expect(done.isEmpty)
        done = a.add([interaction(3, 30, request: "e", position: 0, at: 5_000)])
        #expect(Set(done.map(\.user)) == [1, 2])
        let user1 = done.first { $0.user == 1 }!
        #expect(user1.events.map(\.itemID) == [13, 14] && user1.history == [10, 12])
        #expect(a.histories[1] == [10, 12, 13, 14])
    }

    /// Each history item keeps its gap to the positive before it (in `TimeGap` buckets), through the cap.
    @Test func historiesKeepTheirTimeGaps() {
        var a = SessionAssembler(sessionItems: 2, historyCap: 3)
        _ = a.add([interaction(1, 10, request: "a", position: 0, at: 0), interaction(1, 11, request: "a", position: 1, at: 1_000)])
        let done = a.add([interaction(1, 12, request: "b", position: 0, at: 61_000), interaction(1, 13, request: "b", position: 1, at: 86_461_000)])
        #expect(done[0].history == [10, 11] && done[0].historyGaps == [0, TimeGap.bucket(seconds: 1)])
        // 60 s, then a day; the cap drops item 10, and item 11 keeps its gap.
        #expect(a.histories[1] == [11, 12, 13])
        #expect(a.historyGaps[1] == [2, TimeGap.bucket(seconds: 60), TimeGap.bucket(seconds: 86_400)])
    }
}

@Suite struct ReplayBufferTests {
    @Test func keepsTheNewestAndDrawsFreshOnes() {
        var buffer = ReplayBuffer<Int>(capacity: 5)
        for i in 0..<12 { buffer.append(i) }
        #expect(buffer.count == 5 && buffer.added == 12)
        #expect((0..<5).map(buffer.newest) == [11, 10, 9, 8, 7])
        var rng = SplitMix64(seed: 1)
        let drawn = buffer.sample(100, freshShare: 0.5, window: 2, rng: &rng)
        #expect(drawn.prefix(50).allSatisfy { $0 >= 10 } && drawn.allSatisfy { $0 >= 7 })
    }
}

/// The learner over a real LMDB store filled by the simulator.
@Suite(.serialized) struct LearnerTests {
    struct Setup {
        let dir = TempDirectory()
        let store: OpenStore
        let history: HistoryStore
        let world: World

        init(users: Int = 120) throws {
            store = try OpenStore.forWriting(path: dir.path + "/store", mapSizeMiB: 16, holder: "test")
            history = try store.history()
            var wc = World.Config()
            (wc.users, wc.items) = (users, 150)
            world = World(config: wc)
            var log = SimulationLog(world: world)
            log.requestsPerUser = 8
            var policy = PopularityPolicy(items: wc.items, exploration: 0.5, seed: 3)
            var batch: [Event] = []
            log.run(policy: &policy) { batch.append($0) }
            try history.apply(batch, offsets: [:])
        }

        func learner(_ config: LearnerConfig) throws -> Learner {
            let registry = try ModelRegistry(store: store, directory: dir.path + "/models", logger: Logger(label: "test"))
            try registry.restore()
            let world = self.world
            return try Learner(config: config, store: store, registry: registry, popular: PopularItems(), directory: dir.path + "/trainer",
                               trueWatch: { user, items in world.utility(user: Int(user), session: items).watchTimeMs }, logger: Logger(label: "test"))
        }

        /// A learner started and trained for `steps` steps.
        func learner(_ config: LearnerConfig, trainedFor steps: Int) throws -> Learner {
            let learner = try learner(config)
            try learner.start()
            for _ in 0..<100 where learner.status.snapshot.steps < steps { _ = try learner.tick() }
            return learner
        }
    }

    static var config: LearnerConfig {
        var c = LearnerConfig()
        c.generator = Seq2Seq.Config.preset("tiny")!
        c.maxHistory = 20
        c.minimumItems = 50
        c.minimumSessions = 50
        c.publishEverySteps = 40
        c.checkpointEverySteps = 40
        c.batch = 16
        c.alignment.candidates = 8
        c.alignment.steps = 10
        c.alignment.minimumUsers = 16
        c.alignment.evaluationUsers = 12
        return c
    }

    /// Either architecture, and the lazy one with time gaps: trained, published to the model store, aligned
    /// (beam search, DPO against a frozen copy), checkpointed and resumed.
    @Test(arguments: [(Seq2Seq.Architecture.encoderDecoder, false), (.lazy, false), (.lazy, true)])
    func trainsPublishesAlignsAndResumes(architecture: Seq2Seq.Architecture, timeGaps: Bool) throws {
        let s = try Setup()
        defer { s.dir.cleanup() }
        var config = Self.config
        config.generator = Seq2Seq.Config.preset("tiny", architecture: architecture)!
        config.generator.timeGaps = timeGaps
        let learner = try s.learner(config)
        try learner.start()
        var status = learner.status.snapshot
        #expect(status.codebookVersion == nil && status.catalogItems == 150)  // the codebook comes with the first tick
        try #require(status.examples >= 50, "the simulated log gives \(status.examples) training sessions")
        for _ in 0..<200 where learner.status.snapshot.steps < 120 { _ = try learner.tick() }
        status = learner.status.snapshot
        #expect(status.codebookVersion == 1 && status.codedItems == 150)
        #expect(status.examples > 50)
        // The next-token loss went down, and the reward model trained alongside.
        let loss = status.generatorLoss.map { $0[1] }
        #expect(loss.last! < 0.8 * loss.first!)
        #expect(!status.rewardLoss.isEmpty)
        // Versions 1-3 were published (steps 40, 80, 120) and the newest serves.
        let registry = try ModelRegistry(store: s.store, directory: s.dir.path + "/models", logger: Logger(label: "test"))
        #expect(try registry.promotedStack() == [1, 2, 3])
        // A version reads time gaps as it was trained: serving gives it the history's times.
        let served = try registry.load(version: 3)
        #expect(served.info.config.timeGaps == timeGaps)
        let answer = served.generate(history: [1, 2, 3], times: [0, 1_000, 90_000_000], items: 2, beam: 4, excluded: [1, 2, 3])
        #expect(answer.sessions.first?.items.count == 2)

        let round = try learner.align(reason: "operator")
        #expect(round.id == 1 && round.pairs > 0 && round.users >= 16)
        #expect(round.trueWatchBefore != nil && round.trueWatchAfter != nil)
        #expect(round.promoted == (round.rewardAfter > round.rewardBefore))
        if round.promoted { #expect(try registry.promotedStack().last == round.version) }
        // The round's pairs are kept with it: best over worst by the reward model.
        let kept = try learner.rounds.pairs(round: 1)
        #expect(kept.count == round.pairs && kept.allSatisfy { $0.chosenReward >= $0.rejectedReward && $0.round == 0 })

        // A restart reads the log again and continues from the checkpoint written at step 120.
        try learner.checkpoint()
        let again = try s.learner(config)
        try again.start()
        let resumed = again.status.snapshot
        #expect(resumed.steps == 120 && resumed.examples == status.examples && resumed.rounds.map(\.id) == [1])
    }

    /// With a canary after alignment, a candidate that passes the reward gate is published, not promoted:
    /// a canary serves it (the registry's) while the trainer keeps its own weights; a candidate the gate
    /// refuses starts none.
    @Test func aGatedCandidateIsCanariedNotPromoted() throws {
        let s = try Setup()
        defer { s.dir.cleanup() }
        var config = Self.config
        var canary = Canary.Settings()
        canary.share = 0.2
        config.alignment.canary = canary
        config.alignment.minimumGain = -1  // every candidate passes the reward gate
        let learner = try s.learner(config, trainedFor: 80)
        let before = learner.models!.generator.model.parameters.named.mapValues(\.values)
        let round = try learner.align(reason: "operator")
        #expect(!round.promoted && round.version == 3 && round.note.contains("canary 1"), "\(round.note)")
        #expect(learner.registry.canary?.canary.candidate == 3 && learner.registry.canary?.canary.settings.share == 0.2)
        #expect(learner.registry.snapshot?.version == 2)  // the promoted version still serves the rest
        #expect(learner.models!.generator.model.parameters.named.mapValues(\.values) == before)
        // A second gated round while the canary runs is published and says why it was not canaried.
        let second = try learner.align(reason: "operator")
        #expect(second.version == 4 && second.note.contains("is running"), "\(second.note)")
    }

    /// With real-session pairs a round trains on the users' own logged sessions: each pair's chosen
    /// session was watched clearly longer than its rejected one (their swt labels are the pair's rewards).
    @Test func aRoundCanLearnFromRealSessionPairs() throws {
        let s = try Setup()
        defer { s.dir.cleanup() }
        var config = Self.config
        config.alignment.pairs = .realSessions
        let learner = try s.learner(config, trainedFor: 40)
        let round = try learner.align(reason: "operator")
        #expect(round.pairSource == "real-sessions" && round.pairs > 0, "\(round)")
        let pairs = try learner.rounds.pairs(round: round.id)
        #expect(pairs.count == round.pairs && pairs.allSatisfy { $0.chosenReward >= $0.rejectedReward + 0.1 })
    }

    /// The lazy generator's item IDs follow the codebook's coding order, in training and in the served
    /// versions: rows of items in the histories learn, rows never given out stay zero, a restart keeps
    /// every item's row, and an item coded later takes the next row.
    @Test func itemIDRowsFollowCodingOrderThroughServingAndRestarts() throws {
        let s = try Setup()
        defer { s.dir.cleanup() }
        var config = Self.config
        config.generator = Seq2Seq.Config.preset("tiny", architecture: .lazy)!
        config.itemIDs = 200
        let learner = try s.learner(config, trainedFor: 40)
        let codebook = try #require(learner.codebook)
        let model = try #require(learner.trainer?.model)
        #expect(model.config.itemVocabulary == 201)
        let served = try #require(learner.registry.snapshot)
        let item = codebook.itemsInOrder[17]
        #expect(served.tokenizer.row(of: item) == 18 && learner.trainer?.tokenizer.row(of: item) == 18)
        let table = try #require(model.parameters.named["context.items"])
        func rowNorm(_ r: Int) -> Float { (0..<model.config.width).reduce(0) { $0 + abs(table[r * model.config.width + $1]) } }
        #expect((1...150).contains { rowNorm($0) > 0 } && (151...200).allSatisfy { rowNorm($0) == 0 })

        // A new catalog item is coded on the next tick and takes row 151; a restart keeps every row.
        var event = ItemEvent(eventID: "late-item", itemID: 9_001, timestampMs: 1_767_225_600_000)
        event.embedding = s.world.items[3].embedding
        try s.history.apply([.item(event)], offsets: [:])
        _ = try learner.tick()
        #expect(learner.trainer?.tokenizer.row(of: 9_001) == 151)
        try learner.checkpoint()
        let again = try s.learner(config)
        try again.start()
        #expect(again.codebook?.itemsInOrder == learner.codebook?.itemsInOrder)
        #expect(again.trainer?.tokenizer.row(of: 9_001) == 151 && again.trainer?.tokenizer.row(of: item) == 18)
    }

    /// `trainer.architecture` changed between two runs: the encoder-decoder's checkpoint is not forced
    /// into the lazy model; a fresh lazy generator trains while the stored encoder-decoder version serves,
    /// and the next version published is lazy.
    @Test func changingTheArchitectureStartsAFreshGeneratorWhileTheOldVersionServes() throws {
        let s = try Setup()
        defer { s.dir.cleanup() }
        var config = Self.config
        config.generator = Seq2Seq.Config.preset("tiny", architecture: .encoderDecoder)!
        let before = try s.learner(config, trainedFor: 40)
        try before.checkpoint()
        config.generator = Seq2Seq.Config.preset("tiny", architecture: .lazy)!
        let after = try s.learner(config)
        try after.start()
        #expect(after.status.snapshot.steps == 0)
        let registry = try ModelRegistry(store: s.store, directory: s.dir.path + "/models", logger: Logger(label: "test"))
        #expect(try registry.restore()?.info.config.architecture == .encoderDecoder)
        for _ in 0..<100 where after.status.snapshot.steps < 40 { _ = try after.tick() }
        #expect(try registry.restore()?.info.config.architecture == .lazy)
        #expect(try registry.promotedStack() == [1, 2])
    }

    /// The disk is full when the trainer's checkpoint is written (its temporary file points at /dev/full):
    /// the step fails with the reason, the version published just before still serves, the previous
    /// checkpoint is intact, and once there is space again training goes on and checkpoints.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/full"), "no /dev/full"))
    func aFullDiskFailsTheCheckpointNotServingNorTraining() throws {
        let s = try Setup()
        defer { s.dir.cleanup() }
        let learner = try s.learner(Self.config, trainedFor: 40)
        try #require(learner.status.snapshot.lastCheckpointStep == 40)
        let temporary = s.dir.path + "/trainer/generator.safetensors.tmp-\(getpid())"
        try FileManager.default.createSymbolicLink(atPath: temporary, withDestinationPath: "/dev/full")
        var failure: (any Error)?
        for _ in 0..<100 where failure == nil {
            do { _ = try learner.tick() } catch { failure = error }
        }
        #expect("\(failure.map { "\($0)" } ?? "no failure")".contains("No space left on device"))
        #expect(learner.registry.snapshot?.version == 2)  // published at step 80, before the checkpoint failed
        #expect(try Safetensors.load(s.dir.path + "/trainer/generator.safetensors").metadata["step"] == "40")
        try? FileManager.default.removeItem(atPath: temporary)  // the failed save removes the link itself
        for _ in 0..<100 where (learner.status.snapshot.lastCheckpointStep ?? 0) < 120 { _ = try learner.tick() }
        #expect(learner.status.snapshot.lastCheckpointStep == 120)
    }

    @Test func aDamagedCheckpointIsRefusedAndTrainingStartsFromTheServedVersion() throws {
        let s = try Setup()
        defer { s.dir.cleanup() }
        let learner = try s.learner(Self.config, trainedFor: 40)
        try #require(learner.status.snapshot.steps == 40)
        try "not a checkpoint".write(toFile: s.dir.path + "/trainer/generator.safetensors", atomically: true, encoding: .utf8)
        let again = try s.learner(Self.config)
        try again.start()
        #expect(again.status.snapshot.steps == 0)  // moments and step are lost, the weights are the served version's
        let served = try #require(again.registry.snapshot).weights
        #expect(again.trainer!.model.parameters.tensors.allSatisfy { t in t.values == served[t.name!]!.values })
        #expect(try again.tick())
    }
}
