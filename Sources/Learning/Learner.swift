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

/// Why the learner could not do what it was asked.
public struct LearnerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The background learner: tails the history store's log, turns it into sessions, codes new items,
/// trains the generator (next-token loss on fresh sessions mixed with replay) and the reward model (BCE
/// on logged outcomes), publishes generator versions for serving, and runs alignment rounds. All of its
/// state belongs to the one thread that calls it (see `LearnerService`); what others may read is in
/// `status`.
///
/// After a restart it reads the log again from the start (sessions, histories, popularity and reward
/// rows come back in the same order) and resumes the models from its checkpoint.
public final class Learner {
    /// Settings; the alignment part may change between rounds (`LearnerService.update`).
    public internal(set) var config: LearnerConfig
    let history: HistoryStore
    let registry: ModelRegistry
    let popular: PopularItems
    let codebooks: CodebookStore
    let rounds: AlignmentLog
    let directory: String
    let logger: Logger
    /// The simulator's exact expected watch time (ms) of a session for a user, when there is one.
    let trueWatch: (@Sendable (UInt64, [UInt64]) -> Double)?
    public let status: LearnerStatus

    var watermark: UInt64 = 0
    var assembler: SessionAssembler
    var replay: ReplayBuffer<SessionExample>
    var rewardReplay: ReplayBuffer<RewardExample>
    var embeddings: [UInt64: [Float]] = [:]
    /// Items whose vector the codebook refused (logged once, not retried).
    var uncodable: Set<UInt64> = []
    let rows: ItemRows
    var codebook: Codebook?
    var trainer: GeneratorTrainer?
    var reward: RewardModel?
    var rewardOptimizer: AdamW?
    var rng: SplitMix64
    var smoothedLoss: Double?

    public init(config: LearnerConfig, store: OpenStore, registry: ModelRegistry, popular: PopularItems, directory: String,
                trueWatch: (@Sendable (UInt64, [UInt64]) -> Double)? = nil, status: LearnerStatus = LearnerStatus(),
                logger: Logger) throws {
        self.config = config
        history = try store.history()
        self.registry = registry
        self.popular = popular
        codebooks = try store.codebooks()
        rounds = try store.alignment()
        self.directory = directory
        self.trueWatch = trueWatch
        self.status = status
        self.logger = logger
        assembler = SessionAssembler(sessionItems: config.sessionItems, historyCap: max(config.maxHistory, 20))
        replay = ReplayBuffer(capacity: config.replayCapacity)
        rewardReplay = ReplayBuffer(capacity: config.replayCapacity)
        rows = ItemRows(capacity: config.rewardItems)
        rng = SplitMix64(seed: config.seed)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw LearnerError("cannot create the trainer directory \(directory): \(error.localizedDescription)")
        }
    }

    var generatorCheckpoint: String { "\(directory)/generator.safetensors" }
    var rewardCheckpoint: String { "\(directory)/reward.safetensors" }

    /// Reads the whole log, then restores the codebook and the models from the store and checkpoint;
    /// returns early once `stopping` says so (a shutdown during startup).
    public func start(until stopping: () -> Bool = { false }) throws {
        while try !stopping() && feed(limit: 20_000) > 0 {}
        guard !stopping() else { return }
        status.update { $0.rounds = (try? rounds.all()) ?? [] }
        if let book = try codebooks.load() {
            codebook = book
            codeNewItems()
            try makeModels(resume: true)
        }
        publishStatus()
    }

    /// One unit of work: new events, then (once there is a model and enough sessions) one training step.
    /// Returns false when there was nothing to do.
    public func tick() throws -> Bool {
        let fed = try feed(limit: 5_000)
        if codebook == nil { try buildCodebookIfReady() }
        codeNewItems()
        guard let trainer, replay.count >= config.minimumSessions else {
            publishStatus()
            return fed > 0
        }
        try trainStep(trainer)
        return true
    }

    /// Writes the trainer's state: generator weights and moments, reward model weights and moments.
    public func checkpoint() throws {
        guard let trainer, let reward, let rewardOptimizer, let codebook else { return }
        try trainer.save(to: generatorCheckpoint, metadata: ["codebook": "\(codebook.version)"])
        try Safetensors.save(reward.parameters.tensors + rewardOptimizer.state.tensors,
                             metadata: ["format": "onerec.reward", "step": "\(rewardOptimizer.step)", "items": "\(config.rewardItems)"],
                             to: rewardCheckpoint)
        let step = trainer.optimizer.step
        status.update { $0.lastCheckpointStep = step }
        logger.info("trainer checkpoint written", metadata: ["step": "\(step)", "path": "\(directory)"])
    }

    // MARK: - The feed

    /// Reads up to `limit` log entries after the watermark into sessions, examples, catalog and popularity.
    func feed(limit: Int) throws -> Int {
        let entries = try history.log(after: watermark, limit: limit)
        guard let last = entries.last else { return 0 }
        var interactions: [InteractionEvent] = []
        for (_, event) in entries {
            switch event {
            case let .interaction(e): interactions.append(e)
            case let .item(e):
                rows.assign(e.itemID)
                if let v = e.embedding { embeddings[e.itemID] = v }
            }
        }
        popular.observe(interactions.filter(\.isPositive).map(\.itemID))
        for session in assembler.add(interactions) { learn(from: session) }
        watermark = last.sequence
        status.update { $0.eventsRead = last.sequence }
        return entries.count
    }

    /// A completed session becomes a reward example (its outcome) and, if it has positives, a generator
    /// example: the user's earlier positives as history, this session's positives as the target.
    func learn(from session: LoggedSession) {
        let shown = Array(session.events.prefix(config.sessionItems))
        let target = session.events.filter(\.isPositive).map(\.itemID)
        rewardReplay.append(RewardExample(user: session.user, history: session.history, session: shown.map(\.itemID),
                                          labels: RewardExample.labels(of: shown), positives: target))
        if !target.isEmpty && !session.history.isEmpty { replay.append(SessionExample(history: session.history, session: target)) }
    }

    // MARK: - Codes and models

    func buildCodebookIfReady() throws {
        guard embeddings.count >= config.minimumItems, let dimension = embeddings.first?.value.count else { return }
        let ids = embeddings.keys.sorted()
        let (vectors, rejected) = ItemVectors.validated(ids.map { (id: $0, vector: embeddings[$0]!) }, dimension: dimension)
        let start = Date()
        let (quantizer, training) = ResidualQuantizer.train(vectors, config: ResidualQuantizer.Config())
        let book = try Codebook(version: try codebooks.nextVersion(), vectors: vectors, quantizer: quantizer, training: training)
        let report = CodebookReport(codebook: book, training: training, mode: .balanced, seconds: Date().timeIntervalSince(start))
        try codebooks.save(book, report: report)
        codebook = book
        logger.info("codebook built", metadata: ["version": "\(book.version)", "items": "\(book.count)", "rejected": "\(rejected.count)",
                                                 "collisions": "\(book.collisionsBeforeResolution)"])
        try makeModels(resume: false)
    }

    /// Items that arrived after the codebook get codes (nearest centroids, then the nearest free code).
    func codeNewItems() {
        guard let codebook, codebook.count + uncodable.count < embeddings.count else { return }
        for (id, vector) in embeddings where codebook.code(of: id) == nil && !uncodable.contains(id) {
            do {
                try codebook.add(item: id, vector: vector)
                try codebooks.saveAssignment(codebook, item: id)
            } catch {
                uncodable.insert(id)
                logger.warning("item left without a code", metadata: ["item": "\(id)", "reason": "\(error)"])
            }
        }
    }

    /// Fresh models sized to the codebook, resumed from the checkpoint when it matches.
    func makeModels(resume: Bool) throws {
        guard let codebook else { return }
        let tokenizer = self.tokenizer(codebook)
        let mc = config.generator.fitted(to: tokenizer, maxHistory: config.maxHistory)
        var oc = AdamW.Config()
        oc.learningRate = config.learningRate
        let trainer = GeneratorTrainer(model: Seq2Seq(config: mc, seed: config.seed), tokenizer: tokenizer, maxHistory: config.maxHistory,
                                       sessionItems: config.sessionItems, optimizer: oc)
        var rc = RewardModel.Config()
        rc.items = config.rewardItems
        rc.sessionLength = config.sessionItems
        let reward = RewardModel(config: rc, seed: config.seed &+ 1, rows: rows)
        let dimension = embeddings.first?.value.count
        if dimension == rc.width { reward.initializeItems(from: embeddings) }
        var ro = AdamW.Config()
        ro.learningRate = 3e-3
        let rewardOptimizer = AdamW(parameters: reward.parameters.tensors, config: ro)
        if resume && FileManager.default.fileExists(atPath: generatorCheckpoint) {
            do {
                let metadata = try Safetensors.load(generatorCheckpoint).metadata
                guard metadata["codebook"] == "\(codebook.version)" else {
                    throw LearnerError("it was trained with codebook \(metadata["codebook"] ?? "?"), the store's is \(codebook.version)")
                }
                try trainer.resume(from: generatorCheckpoint)
                let (rewardTensors, rewardMetadata) = try Safetensors.load(rewardCheckpoint)
                guard rewardMetadata["format"] == "onerec.reward", let step = rewardMetadata["step"].flatMap(Int.init) else {
                    throw LearnerError("\(rewardCheckpoint) is not a reward checkpoint")
                }
                try reward.parameters.restore(rewardTensors, optimizer: rewardOptimizer, step: step)
                logger.info("trainer resumed", metadata: ["step": "\(trainer.optimizer.step)", "codebook": "\(codebook.version)"])
            } catch {
                // A damaged or mismatched checkpoint: start from the serving version's weights if there is
                // one (else from scratch); the old files stay for inspection until the next checkpoint.
                logger.error("trainer checkpoint refused", metadata: ["reason": "\(error)"])
                if let serving = registry.snapshot, serving.info.config == mc, serving.info.codebookVersion == codebook.version {
                    try trainer.model.parameters.load(serving.weights)
                }
            }
        }
        self.trainer = trainer
        self.reward = reward
        self.rewardOptimizer = rewardOptimizer
    }

    /// Tokens of `codebook`'s items as the generator reads them: a lazy generator with `itemIDs` rows
    /// gives items item-ID tokens in coding order, as serving does (`ModelSnapshot`).
    func tokenizer(_ codebook: Codebook) -> ItemTokenizer {
        let ids = config.generator.architecture == .lazy && config.itemIDs > 0
        return ItemTokenizer(codebook: codebook, itemIDs: ids ? .codingOrder(capacity: config.itemIDs) : .none)
    }

    // MARK: - Training

    func trainStep(_ trainer: GeneratorTrainer) throws {
        let batch = codedSessions(replay.sample(config.batch, freshShare: config.freshShare, window: config.freshWindow, rng: &rng))
        guard !batch.isEmpty else { return }
        let step = trainer.optimizer.step
        let (loss, _) = trainer.step(batch, seed: config.seed &+ UInt64(step))
        guard loss.isFinite else {
            throw LearnerError("generator loss is \(loss) at step \(step); the step's update is not published")
        }
        smoothedLoss = smoothedLoss.map { 0.98 * $0 + 0.02 * Double(loss) } ?? Double(loss)
        let done = trainer.optimizer.step
        if done % config.rewardEvery == 0, let reward, let rewardOptimizer, rewardReplay.count > 0 {
            let chunk = rewardReplay.sample(64, freshShare: config.freshShare, window: config.freshWindow, rng: &rng)
            let g = Graph(seed: config.seed &+ UInt64(done))
            let bce = reward.loss(g, RewardModel.Batch(histories: chunk.map(\.history), sessions: chunk.map(\.session), labels: chunk.flatMap(\.labels)))
            g.backward(bce)
            rewardOptimizer.update()
            rewardOptimizer.zeroGradients()
            if done % 20 == 0 { status.update { LearnerStatus.append([Double(done), Double(bce[0])], to: &$0.rewardLoss) } }
        }
        if done % 20 == 0, let smoothedLoss { status.update { LearnerStatus.append([Double(done), smoothedLoss], to: &$0.generatorLoss) } }
        if done % config.publishEverySteps == 0 { try publish(kind: .trained, model: trainer.model, metrics: ["loss": smoothedLoss ?? 0]) }
        if done % config.checkpointEverySteps == 0 { try checkpoint() }
        if done % 20 == 0 { publishStatus() }
    }

    /// The examples restricted to items with codes (an item without an embedding has none), dropping
    /// those left without history or target.
    func codedSessions(_ examples: [SessionExample]) -> [SessionExample] {
        guard let codebook else { return [] }
        return examples.compactMap { e in
            let history = e.history.filter { codebook.code(of: $0) != nil }, session = e.session.filter { codebook.code(of: $0) != nil }
            return history.isEmpty || session.isEmpty ? nil : SessionExample(history: history, session: session)
        }
    }

    /// Publishes the model as a new version and serves it.
    @discardableResult
    func publish(kind: ModelInfo.Kind, model: Seq2Seq, metrics: [String: Double]) throws -> ModelSnapshot {
        guard let codebook, let trainer else { throw LearnerError("nothing to publish before the first codebook") }
        let info = ModelInfo(version: try registry.nextVersion(), parent: registry.snapshot?.version, kind: kind,
                             codebookVersion: codebook.version, config: model.config, maxHistory: config.maxHistory,
                             sessionItems: config.sessionItems, steps: trainer.optimizer.step, metrics: metrics)
        return try registry.publish(model: model, codebook: codebook, info: info, promote: true)
    }

    func publishStatus() {
        let (steps, examples, users) = (trainer?.optimizer.step ?? 0, replay.count, assembler.histories.count)
        let (catalog, coded, version) = (embeddings.count, codebook?.count ?? 0, codebook?.version)
        let phase = codebook == nil ? "waiting for \(config.minimumItems) items with embeddings (have \(catalog))"
            : examples < config.minimumSessions ? "waiting for \(config.minimumSessions) training sessions (have \(examples))" : "training"
        status.update {
            ($0.steps, $0.examples, $0.users, $0.catalogItems, $0.codedItems, $0.codebookVersion) = (steps, examples, users, catalog, coded, version)
            if $0.phase != "aligning" { $0.phase = phase }
        }
    }
}
