import Alignment
import Engine
import Events
import Foundation
import Generator
import Logging
import Metrics
import Models
import SemanticIDs
import Serving
import Store

/// Why the learner could not do what it was asked.
public struct LearnerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The background learner, composed of parts with one job each: the `LogFeed` tails the history store's
/// log into sessions and users' sequences, `TrainingExamples` keeps sessions for replay, the
/// `CodebookKeeper` builds and extends the codebook (and rebuilds it: a `CodebookSuccessor` trains beside
/// the serving generator until it takes over, `Learner+Rebuild`), the `OnlineTrainer` trains generator and reward model,
/// the `Checkpointer` saves and resumes them, the `Publisher` serves new versions; alignment rounds
/// (`align`) use them all. Before it reads a sampled positive interaction, it tests the serving version
/// and popular items on it (`OnlineAccuracy`). All of its state
/// belongs to the one thread that calls it (see `LearnerService`); what others may read is in `status`.
///
/// After a restart it reads the log again from the start (sessions, histories, popularity and reward
/// rows come back in the same order) and resumes the models from its checkpoint.
public final class Learner {
    /// Settings; the alignment part may change between rounds (`LearnerService.update`).
    public internal(set) var config: LearnerConfig
    let registry: ModelRegistry
    let rounds: AlignmentLog
    let feed: LogFeed
    var examples: TrainingExamples
    let keeper: CodebookKeeper
    let checkpoints: Checkpointer
    let publisher: Publisher
    let popular: PopularItems
    var models: OnlineTrainer?
    /// A rebuilt codebook's generator in training, while `models` serves.
    var successor: CodebookSuccessor?
    /// When the current codebook was built (this process's clock), and the positives stored before which
    /// no rebuild starts for the uncoded share (after a successor was dropped).
    var lastBuild = Date()
    var rebuildAfter = 0
    /// Training steps taken, the successor's included (it takes every other one).
    private var ticks = 0
    /// The items of the newest positives, for the share on items without a code.
    var recentPositives = ReplayBuffer<UInt64>(capacity: 10_000)
    /// Positives read when codes were last folded in for new items (behaviour codebooks).
    var foldedAt = 0
    let logger: Logger
    /// The simulator's exact expected watch time (ms) of a session for a user, when there is one.
    let trueWatch: (@Sendable (UInt64, [UInt64]) -> Double)?
    public let status: LearnerStatus

    public init(config: LearnerConfig, store: OpenStore, registry: ModelRegistry, popular: PopularItems, directory: String,
                trueWatch: (@Sendable (UInt64, [UInt64]) -> Double)? = nil, status: LearnerStatus = LearnerStatus(),
                logger: Logger) throws {
        self.config = config
        self.registry = registry
        rounds = try store.alignment()
        feed = LogFeed(history: try store.history(), popular: popular, rows: ItemRows(capacity: config.rewardItems),
                       sessionItems: config.sessionItems, historyCap: max(config.maxHistory, 20),
                       sequences: TrainingSequences(maxHistory: config.maxHistory, cap: max(config.sequenceCap, config.maxHistory + 1),
                                                    capacity: 4_000_000, freshUsers: config.freshWindow))
        self.popular = popular
        examples = TrainingExamples(config)
        keeper = CodebookKeeper(store: try store.codebooks(), logger: logger)
        checkpoints = try Checkpointer(directory: directory)
        publisher = Publisher(registry: registry, maxHistory: config.maxHistory, sessionItems: config.targetItems)
        self.trueWatch = trueWatch
        self.status = status
        self.logger = logger
        status.update { $0.online = OnlineAccuracy(windowSeconds: config.onlineWindowSeconds) }
    }

    var codebook: Codebook? { keeper.codebook }
    /// The generator's trainer, once there is a codebook.
    var trainer: GeneratorTrainer? { models?.generator }

    /// Reads the whole log, then restores the codebook and the models from the store and checkpoint;
    /// returns early once `stopping` says so (a shutdown during startup).
    public func start(until stopping: () -> Bool = { false }) throws {
        while try !stopping() && read(limit: 20_000) > 0 {}
        guard !stopping() else { return }
        status.update { $0.rounds = (try? rounds.all()) ?? [] }
        if try keeper.restore(fallback: .content) != nil {
            extendCodebook()
            try makeModels(resume: true)
        }
        publishStatus()
    }

    /// One unit of work: new events, then (once there is a model and enough sessions) one training step.
    /// Returns false when there was nothing to do.
    public func tick() throws -> Bool {
        let fed = try read(limit: 5_000, testing: true)
        if codebook == nil, let (vectors, source) = codebookVectors() {
            _ = try keeper.build(from: vectors, source: source, levels: config.trainsSequences ? config.recipe.levels : 3, seed: config.seed)
            lastBuild = Date()
            try makeModels(resume: false)
        }
        extendCodebook()
        guard let models, examples.sessions.count >= config.minimumSessions else {
            publishStatus()
            return fed > 0
        }
        ticks += 1
        if ticks % config.publishEverySteps == 0 { try rebuildIfDue() }
        if let successor, ticks % 2 == 0 { try train(successor) } else { try trainStep(models) }
        return true
    }

    /// Writes the trainer's state: generator weights and moments, reward model weights and moments.
    public func checkpoint() throws {
        guard let models, let codebook else { return }
        try checkpoints.save(models, codebookVersion: codebook.version, rewardItems: config.rewardItems)
        let step = models.generator.optimizer.step
        status.update { $0.lastCheckpointStep = step }
        logger.info("trainer checkpoint written", metadata: ["step": "\(step)", "path": "\(checkpoints.directory)"])
    }

    /// The vectors of the first codebook and where they come from, once there are enough (nil before):
    /// content once `minimumItems` items carry embeddings (`content`, or `auto` while no behaviour
    /// codebook would be built instead), behaviour once `minimumPositives` positives are stored.
    func codebookVectors() -> ([UInt64: [Float]], CodebookSource)? {
        let contentReady = feed.embeddings.count >= max(config.minimumItems, 1)
        let behaviourReady = feed.sequences.positiveCount >= config.minimumPositives
        switch config.codebook {
        case .content: return contentReady ? (feed.embeddings, .content) : nil
        case .auto where contentReady: return (feed.embeddings, .content)
        case .auto, .behaviour:
            guard behaviourReady else { return nil }
            let vectors = CodebookVectors.behaviour(feed.sequences.items, seed: config.seed)
            return vectors.count >= 2 ? (vectors, .behaviour) : nil
        case .both:
            guard contentReady && behaviourReady else { return nil }
            let vectors = CodebookVectors.both(content: feed.embeddings, behaviour: CodebookVectors.behaviour(feed.sequences.items, seed: config.seed))
            return vectors.count >= 2 ? (vectors, .both) : nil
        }
    }

    /// Codes items that arrived since the codebook (and a successor's): from their embeddings (content),
    /// or folded in from the coded items they co-occur with, after every `freshWindow` new positives
    /// (behaviour, both).
    private func extendCodebook() {
        let books = [codebook.map { ($0, keeper.source) }, successor.map { ($0.codebook, $0.source) }].compactMap { $0 }
        for (book, source) in books where source == .content { keeper.codeNewItems(feed.embeddings, into: book) }
        guard feed.sequences.positiveCount - foldedAt >= config.freshWindow || foldedAt == 0 else { return }
        foldedAt = feed.sequences.positiveCount
        for (book, source) in books where source != .content {
            let coded = keeper.code(CodebookVectors.foldIn(feed.sequences.items, codebook: book, minimum: 3), into: book)
            if coded > 0 { logger.info("new items coded from their co-occurrences", metadata: ["items": "\(coded)", "codebook": "\(book.version)"]) }
        }
    }

    /// Reads up to `limit` log entries into examples; with `testing`, sampled positives test the serving
    /// version first.
    private func read(limit: Int, testing: Bool = false) throws -> Int {
        let (entries, sessions) = try feed.read(limit: limit) { sequence, event in
            recentPositives.append(event.itemID)
            if testing { test(event, sequence: sequence) }
        }
        for session in sessions { examples.add(session) }
        if entries > 0 {
            let watermark = feed.watermark
            status.update { $0.eventsRead = watermark }
        }
        return entries
    }

    /// Fresh models sized to the codebook, resumed from the checkpoint when it matches; a damaged or
    /// mismatched checkpoint starts from the serving version's weights if there is one (else from
    /// scratch), and its files stay for inspection until the next checkpoint.
    func makeModels(resume: Bool) throws {
        guard let codebook else { return }
        let models = OnlineTrainer(config: config, tokenizer: tokenizer(codebook), rows: feed.rows, embeddings: feed.embeddings)
        if resume && checkpoints.exists {
            do {
                try checkpoints.restore(models, codebookVersion: codebook.version)
                models.average?.reset()
                logger.info("trainer resumed", metadata: ["step": "\(models.generator.optimizer.step)", "codebook": "\(codebook.version)"])
            } catch {
                logger.error("trainer checkpoint refused", metadata: ["reason": "\(error)"])
                if let serving = registry.snapshot, serving.info.config == models.generator.model.config, serving.info.codebookVersion == codebook.version {
                    try models.generator.model.parameters.load(serving.weights)
                    models.average?.reset()
                }
            }
        }
        self.models = models
    }

    /// Goes on training from `snapshot`'s weights (a canary's candidate just promoted), when it has the
    /// trainer's shape and codebook; otherwise the trainer keeps its own weights and says why.
    func adopt(_ snapshot: ModelSnapshot) {
        guard let models, let codebook, snapshot.info.config == models.generator.model.config, snapshot.info.codebookVersion == codebook.version else {
            logger.warning("trainer keeps its own weights: the promoted version has another shape or codebook", metadata: ["version": "\(snapshot.version)"])
            return
        }
        do {
            try models.generator.model.parameters.load(snapshot.weights)
            models.average?.reset()
            logger.info("trainer goes on from the promoted version", metadata: ["version": "\(snapshot.version)"])
        } catch {
            preconditionFailure("a snapshot of the trainer's shape loads into it: \(error)")
        }
    }

    /// Tokens of `codebook`'s items as the generator reads them: a lazy generator with `itemIDs` rows
    /// gives items item-ID tokens in coding order, as serving does (`ModelSnapshot`).
    func tokenizer(_ codebook: Codebook) -> ItemTokenizer {
        let ids = config.generator.architecture == .lazy && config.itemIDs > 0
        return ItemTokenizer(codebook: codebook, itemIDs: ids ? .codingOrder(capacity: config.itemIDs) : .none)
    }

    private func trainStep(_ models: OnlineTrainer) throws {
        guard let codebook, let step = try trainingStep(models, codebook: codebook, rewards: true) else { return }
        let done = step.done
        if done % 20 == 0 {
            if let rewardLoss = step.rewardLoss { status.update { LearnerStatus.append([Double(done), Double(rewardLoss)], to: &$0.rewardLoss) } }
            status.update { LearnerStatus.append([Double(done), step.smoothedLoss], to: &$0.generatorLoss) }
        }
        if done % config.publishEverySteps == 0 {
            try models.withAveragedWeights { try publish(kind: .trained, model: models.generator.model, metrics: ["loss": step.smoothedLoss]) }
        }
        if done % config.checkpointEverySteps == 0 { try checkpoint() }
        if done % 20 == 0 { publishStatus() }
    }

    /// One step of `models`' generator on batches coded by `codebook` (and, with `rewards`, the reward
    /// model's step when due); nil when there was no batch.
    func trainingStep(_ models: OnlineTrainer, codebook: Codebook, rewards: Bool) throws -> OnlineTrainer.Step? {
        let tokenizer = self.tokenizer(codebook)
        let train: (GeneratorTrainer, UInt64) -> Float
        if config.trainsSequences {
            let (sequences, gaps) = feed.sequences.batch(config.recipe.batch, freshShare: config.freshShare,
                                                         codedBy: tokenizer, rng: &examples.rng)
            guard !sequences.isEmpty else { return nil }
            let rate = config.recipe.schedule.rate(at: models.generator.optimizer.step)
            let timeGaps = config.generator.timeGaps
            train = { trainer, seed in trainer.sequenceStep(sequences, gaps: timeGaps ? gaps : nil, learningRate: rate, seed: seed).loss }
        } else {
            let batch = examples.sessionBatch(config.batch, codedBy: tokenizer)
            guard !batch.isEmpty else { return nil }
            train = { trainer, seed in trainer.step(batch, seed: seed).loss }
        }
        return try models.step(train) { rewards && examples.outcomes.count > 0 ? examples.outcomeBatch(64) : [] }
    }

    /// Publishes the model as a new version and, with `promote`, serves it. Its metrics record the log
    /// entry it has read up to (`trainedThrough`), so the online test never scores what it learned from.
    @discardableResult
    func publish(kind: ModelInfo.Kind, model: Seq2Seq, metrics: [String: Double], promote: Bool = true) throws -> ModelSnapshot {
        guard let codebook, let models else { throw LearnerError("nothing to publish before the first codebook") }
        return try publisher.publish(kind: kind, model: model, codebook: codebook, steps: models.generator.optimizer.step,
                                     metrics: metrics.merging([Self.trainedThrough: Double(feed.watermark)]) { $1 }, promote: promote)
    }

    /// The metric of a version that names the last log entry its training had read.
    public static let trainedThrough = "trainedThrough"

    /// Tests the serving version and popular items on a sampled positive before anything learns from it:
    /// is its item in the top 10 of what each would have answered the user just before?
    private func test(_ event: InteractionEvent, sequence: UInt64) {
        var draw = SplitMix64(seed: sequence ^ config.seed)
        guard Double(draw.next() % 1_000_000) < config.onlineSampleShare * 1_000_000 else { return }
        let (history, times) = feed.sequences.history(of: event.userID)
        let seen = Set(history)
        let cutoff = OnlineAccuracy.cutoff
        let popularRank = popular.top(cutoff, excluding: seen).firstIndex(of: event.itemID).map { $0 + 1 }
        var servedRank = popularRank, version: UInt32?
        if let snapshot = registry.snapshot, !history.isEmpty {
            guard UInt64(snapshot.info.metrics[Self.trainedThrough] ?? 0) < sequence else {
                status.update { $0.online?.skipped += 1 }
                return
            }
            let answer = snapshot.recommend(history: history, times: times, count: cutoff, beam: config.servingBeam, excluded: seen)
            (servedRank, version) = (answer?.items.firstIndex(of: event.itemID).map { $0 + 1 }, snapshot.version)
            if let successor, let candidate = successor.snapshot, UInt64(candidate.info.metrics[Self.trainedThrough] ?? 0) < sequence {
                let answer = candidate.recommend(history: history, times: times, count: cutoff, beam: config.servingBeam, excluded: seen)
                successor.record(successor: answer?.items.firstIndex(of: event.itemID).map { $0 + 1 }, serving: servedRank)
            }
        }
        status.update { $0.online?.add(timeMs: event.timestampMs, served: servedRank, version: version, popular: popularRank) }
        let answer = version == nil ? "popular" : "model"
        Counter(label: "onerec_online_tested_total", dimensions: [("answer", answer)]).increment()
        if servedRank != nil { Counter(label: "onerec_online_hits_total", dimensions: [("answer", answer)]).increment() }
        if popularRank != nil { Counter(label: "onerec_online_hits_total", dimensions: [("answer", "popular_beside")]).increment() }
    }

    /// What the first codebook still waits for.
    private var waitingForCodebook: String {
        let items = "\(config.minimumItems) items with embeddings (have \(feed.embeddings.count))"
        let positives = "\(config.minimumPositives) positive interactions (have \(feed.sequences.positiveCount))"
        switch config.codebook {
        case .content: return "waiting for \(items)"
        case .behaviour: return "waiting for \(positives)"
        case .both: return "waiting for \(items) and \(positives)"
        case .auto: return "waiting for \(items) or \(positives)"
        }
    }

    func publishStatus() {
        let (steps, examples, users) = (models?.generator.optimizer.step ?? 0, self.examples.sessions.count, feed.histories.count)
        let (catalog, coded, version) = (feed.embeddings.count, codebook?.count ?? 0, codebook?.version)
        let phase = codebook == nil ? waitingForCodebook
            : examples < config.minimumSessions ? "waiting for \(config.minimumSessions) training sessions (have \(examples))" : "training"
        let uncodedShare = self.uncodedShare
        let successor = self.successor.map { s in
            let (tally, steps) = (s.tally, s.models.generator.optimizer.step)
            return LearnerStatus.Successor(codebookVersion: s.codebook.version, source: s.source.rawValue, steps: steps, tested: tally.successor.tested,
                                           hitRate: tally.successor.hitRate, servingHitRate: tally.serving.hitRate)
        }
        Gauge(label: "onerec_learner_uncoded_positive_share").record(uncodedShare)
        status.update {
            ($0.steps, $0.examples, $0.users, $0.catalogItems, $0.codedItems, $0.codebookVersion) = (steps, examples, users, catalog, coded, version)
            ($0.uncodedPositiveShare, $0.codebookSource, $0.successor) = (uncodedShare, keeper.source?.rawValue, successor)
            if $0.phase != "aligning" { $0.phase = phase }
        }
    }
}
