import Alignment
import Engine
import Foundation
import Generator
import Logging
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
/// log into sessions, `TrainingExamples` keeps them for replay, the `CodebookKeeper` builds and extends the
/// codebook, the `OnlineTrainer` trains generator and reward model, the `Checkpointer` saves and resumes
/// them, the `Publisher` serves new versions; alignment rounds (`align`) use them all. All of its state
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
    var models: OnlineTrainer?
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
                       sessionItems: config.sessionItems, historyCap: max(config.maxHistory, 20))
        examples = TrainingExamples(config)
        keeper = CodebookKeeper(store: try store.codebooks(), logger: logger)
        checkpoints = try Checkpointer(directory: directory)
        publisher = Publisher(registry: registry, maxHistory: config.maxHistory, sessionItems: config.sessionItems)
        self.trueWatch = trueWatch
        self.status = status
        self.logger = logger
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
        if try keeper.restore() != nil {
            keeper.codeNewItems(feed.embeddings)
            try makeModels(resume: true)
        }
        publishStatus()
    }

    /// One unit of work: new events, then (once there is a model and enough sessions) one training step.
    /// Returns false when there was nothing to do.
    public func tick() throws -> Bool {
        let fed = try read(limit: 5_000)
        if codebook == nil && feed.embeddings.count >= max(config.minimumItems, 1) {
            _ = try keeper.build(from: feed.embeddings)
            try makeModels(resume: false)
        }
        keeper.codeNewItems(feed.embeddings)
        guard let models, examples.sessions.count >= config.minimumSessions else {
            publishStatus()
            return fed > 0
        }
        try trainStep(models)
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

    /// Reads up to `limit` log entries into examples.
    private func read(limit: Int) throws -> Int {
        let (entries, sessions) = try feed.read(limit: limit)
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
                logger.info("trainer resumed", metadata: ["step": "\(models.generator.optimizer.step)", "codebook": "\(codebook.version)"])
            } catch {
                logger.error("trainer checkpoint refused", metadata: ["reason": "\(error)"])
                if let serving = registry.snapshot, serving.info.config == models.generator.model.config, serving.info.codebookVersion == codebook.version {
                    try models.generator.model.parameters.load(serving.weights)
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
        guard let codebook else { return }
        let batch = examples.sessionBatch(config.batch, codedBy: tokenizer(codebook))
        guard !batch.isEmpty else { return }
        let step = try models.step(batch) { examples.outcomes.count > 0 ? examples.outcomeBatch(64) : [] }
        let done = step.done
        if done % 20 == 0 {
            if let rewardLoss = step.rewardLoss { status.update { LearnerStatus.append([Double(done), Double(rewardLoss)], to: &$0.rewardLoss) } }
            status.update { LearnerStatus.append([Double(done), step.smoothedLoss], to: &$0.generatorLoss) }
        }
        if done % config.publishEverySteps == 0 { try publish(kind: .trained, model: models.generator.model, metrics: ["loss": step.smoothedLoss]) }
        if done % config.checkpointEverySteps == 0 { try checkpoint() }
        if done % 20 == 0 { publishStatus() }
    }

    /// Publishes the model as a new version and, with `promote`, serves it.
    @discardableResult
    func publish(kind: ModelInfo.Kind, model: Seq2Seq, metrics: [String: Double], promote: Bool = true) throws -> ModelSnapshot {
        guard let codebook, let models else { throw LearnerError("nothing to publish before the first codebook") }
        return try publisher.publish(kind: kind, model: model, codebook: codebook, steps: models.generator.optimizer.step, metrics: metrics,
                                     promote: promote)
    }

    func publishStatus() {
        let (steps, examples, users) = (models?.generator.optimizer.step ?? 0, self.examples.sessions.count, feed.histories.count)
        let (catalog, coded, version) = (feed.embeddings.count, codebook?.count ?? 0, codebook?.version)
        let phase = codebook == nil ? "waiting for \(config.minimumItems) items with embeddings (have \(catalog))"
            : examples < config.minimumSessions ? "waiting for \(config.minimumSessions) training sessions (have \(examples))" : "training"
        status.update {
            ($0.steps, $0.examples, $0.users, $0.catalogItems, $0.codedItems, $0.codebookVersion) = (steps, examples, users, catalog, coded, version)
            if $0.phase != "aligning" { $0.phase = phase }
        }
    }
}
