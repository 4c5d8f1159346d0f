import Datasets
import Engine
import Foundation
import Generator
import Models
import SemanticIDs

/// `onerec eval movielens|file|store`: the generator and SASRec trained and evaluated on one
/// leave-one-out split of an interaction log.
///
/// Protocol: every interaction is positive; each user's events are sorted by timestamp, ties
/// kept in file order; the last item is the test target, the one before it the validation target, the
/// rest trains. Both models are first measured on the validation item (history: the training items),
/// which is what settings are chosen by; with `test`, then once on the test item (history: the training
/// items plus the validation item). Each ranks every item the user has not interacted with (full
/// ranking, no sampled negatives), and the target's rank gives HR@{1,5,10,50} and NDCG@{5,10,50}. The
/// generator ranks by constrained beam search (beam 50, one item), so an item outside its beam counts
/// as a miss.
public struct RankingExperiment {
    public struct Config: Sendable {
        public var generator = Seq2Seq.Config()
        /// The semantic IDs' levels and codes per level (the seed is `seed`).
        public var codes = ResidualQuantizer.Config()
        /// History items the generator reads.
        public var maxHistory = 50
        /// Items with at least this many training interactions get an item-ID embedding in the lazy
        /// decoder's context (0: codes alone).
        public var itemIDMinimum = 0
        /// Items per training session (the paper: 5); 1 with a dense decoder is the TIGER-style ablation.
        public var sessionItems = 5
        /// How the generator is trained: on whole sequences (lazy only; each step `generatorBatch` users'
        /// training sequences, every position's next session a target) or on sampled (history, session)
        /// examples (`generatorBatch` of them a step).
        public var training = GeneratorTraining.sessions
        /// Which training sessions to learn from; an item rated 4 or 5 counts as a positive signal.
        public var filter = SessionFilter()
        public var generatorSteps = 3000
        public var generatorBatch = 32
        public var generatorLearningRate: Float = 1e-3
        /// The generator's decoupled weight decay on its matrices (AdamW's default: 0.01).
        public var generatorWeightDecay: Float = 0.01
        /// Measure and keep an exponential moving average of the generator's weights with this decay per
        /// step (nil: the weights as trained).
        public var generatorAverage: Float?
        /// Measure the generator on the validation items every this many steps (0: never) and keep its
        /// best measurement; stop after `generatorPatience` measurements in a row without a better one.
        public var generatorValidateEvery = 0
        public var generatorPatience = 3
        /// Which part of each user's training sequence the generator learns from (sequence training).
        public var generatorWindows = TrainingWindows.newest
        public var sasrec = SASRec.Config()
        /// At most this many SASRec epochs; the epoch kept is the one with the best validation NDCG@10
        /// among those measured (every `sasrecValidateEvery` epochs; 0: the last epoch, unmeasured).
        public var sasrecEpochs = 40
        public var sasrecValidateEvery = 5
        /// Stop once this many measurements in a row did not improve on the best.
        public var sasrecPatience = 3
        public var sasrecBatch = 64
        public var sasrecLearningRate: Float = 1e-3
        /// SASRec's learning rate warms up and decays as the generator's does (`SASRec.Training.cosine`).
        public var sasrecCosine = false
        /// SASRec's weights averaged as the generator's may be (`generatorAverage`), per batch.
        public var sasrecAverage: Float?
        /// Which part of each user's training sequence SASRec learns from.
        public var sasrecWindows = TrainingWindows.newest
        public var beam = 50
        /// Evaluate on at most this many users (all by default).
        public var maxUsers = Int.max
        /// Measure on the test items too (after the validation items); off while choosing settings.
        public var test = true
        /// Which models to train and measure (one alone while tuning it).
        public var models = Models.both
        /// Train the two models side by side, one core each, and split the measuring over two threads.
        public var parallel = true
        public var seed: UInt64 = 1
        public init() {}
    }

    public enum GeneratorTraining: String, Sendable, CaseIterable {
        case sequences, sessions
    }

    public enum Models: String, Sendable, CaseIterable {
        case both, generator, sasrec
        var generator: Bool { self != .sasrec }
        var sasrec: Bool { self != .generator }
    }

    /// The models on one target (nil: not run).
    public struct Comparison: Sendable {
        public let generator: RankingMetrics?
        public let sasrec: RankingMetrics?
    }

    /// A trained model's size and training time.
    public struct Training: Sendable {
        public let parameters: Int
        public let seconds: Double
    }

    public struct Report: Sendable {
        public let validation: Comparison
        public let test: Comparison?
        /// Of the generator's constrained next-code distributions, on the validation items (empty without
        /// the generator).
        public let entropy: [Double]
        public let generator: Training?, sasrec: Training?
        public let codebook: String
    }

    public let config: Config
    public init(config: Config) { self.config = config }

    /// Trains both models on `events` (called `name` in the log) and measures them.
    public func run(on events: InteractionLog, name: String, log say: (String) -> Void) throws -> Report {
        let timed = events.timedHistories()
        let split = LeaveOneOut(histories: timed.map(\.items), timestamps: timed.map(\.timestamps))
        guard !split.users.isEmpty else { throw DatasetError("\(name): no user has 3 or more interactions, so there is nothing to evaluate") }
        let n = events.items.count
        say("\(name): \(events.users.count) users, \(n) items, \(events.events.count) interactions; \(split.users.count) users evaluated")

        // Item codes from behaviour vectors of the training items, what both models learn from.
        var behaviour = BehaviourVectors.Config()
        behaviour.dimension = min(behaviour.dimension, n)  // a small catalog has fewer dimensions than the default
        let vectors = BehaviourVectors.compute(histories: split.users.map(\.train), items: n, config: behaviour)
        let (items, rejected) = ItemVectors.validated(ids: (0..<UInt64(n)).map { $0 }, values: vectors, dimension: behaviour.dimension)
        var qc = config.codes
        qc.seed = config.seed
        let start = Date()
        let (quantizer, training) = ResidualQuantizer.train(items, config: qc)
        let book = try Codebook(version: 1, vectors: items, quantizer: quantizer, training: training)
        let report = CodebookReport(codebook: book, training: training, mode: .balanced, seconds: Date().timeIntervalSince(start))
        say("codebook (\(rejected.count) items without co-occurrence have no code):\n\(report)")

        var counts: [UInt64: Int] = [:]
        for user in split.users { for item in user.train { counts[UInt64(item), default: 0] += 1 } }
        let rows = config.itemIDMinimum > 0 ? ItemTokenizer.rows(counts: counts, minimum: config.itemIDMinimum) : [:]
        let tokenizer = ItemTokenizer(codebook: book, itemIDs: rows.isEmpty ? .none : .rows(rows))
        if !rows.isEmpty { say("item-ID rows for the \(rows.count) items with at least \(config.itemIDMinimum) training interactions") }
        var ratings: [UInt64: Float] = [:]
        for e in events.events { ratings[UInt64(UInt32(e.user)) << 32 | UInt64(UInt32(e.item))] = e.rating }
        let users = Array(split.users.prefix(config.maxUsers))
        return withoutActuallyEscaping(say) { say in
            let log = SharedLog(say)
            func generator() -> (Seq2Seq, Double)? {
                config.models.generator ? trainGenerator(split: split, tokenizer: tokenizer, ratings: ratings, validation: users, log: log) : nil
            }
            func sasrec() -> (SASRec, Double)? {
                config.models.sasrec ? trainSASRec(split: split, items: n, validation: users, log: log.callAsFunction) : nil
            }
            let (g, s) = config.parallel && config.models == .both ? concurrently(generator, sasrec) : (generator(), sasrec())
            let models = Trained(generator: g.map { SessionDecoder(model: $0.0, weights: $0.0.decodingWeights(), tokenizer: tokenizer) },
                                 sasrec: s?.0)
            log("evaluating on the validation items")
            let (validation, entropy) = measure(models, users: users, log: log) { ($0.train, $0.validation) }
            if let m = validation.generator { log("validation: generator \(m)") }
            if let m = validation.sasrec { log("validation: sasrec    \(m)") }
            var test: Comparison?
            if config.test {
                log("evaluating on the test items")
                test = measure(models, users: users, log: log) { ($0.train + [$0.validation], $0.test) }.comparison
            }
            return Report(validation: validation, test: test, entropy: entropy,
                          generator: g.map { Training(parameters: $0.0.parameters.count, seconds: $0.1) },
                          sasrec: s.map { Training(parameters: $0.0.parameters.count, seconds: $0.1) }, codebook: report.description)
        }
    }

    /// The trained models (nil: not run).
    private struct Trained: @unchecked Sendable {
        // @unchecked: measuring only reads them (SessionDecoder.generate and SASRec's scoring keep their
        // state per call).
        let generator: SessionDecoder?
        let sasrec: SASRec?
    }

    /// The models' ranks of each user's target after their history (`target` gives both), and the
    /// generator's mean entropy per level; the users split over two threads when `parallel`.
    private func measure(_ models: Trained, users: [LeaveOneOut.User], log: SharedLog,
                         target: @escaping @Sendable (LeaveOneOut.User) -> (history: [Int32], item: Int32)) -> (comparison: Comparison, entropy: [Double]) {
        let shares = config.parallel && users.count > 1 ? [Array(users[..<(users.count / 2)]), Array(users[(users.count / 2)...])] : [users]
        func share(_ i: Int) -> Share { measure(models, users: shares[i], share: i, of: shares.count, log: log, target: target) }
        let parts = shares.count == 2 ? { let (a, b) = concurrently({ share(0) }, { share(1) }); return [a, b] }() : [share(0)]
        var g = RankingMetrics(), s = RankingMetrics()
        var entropy = [Double](repeating: 0, count: models.generator?.tokenizer.levels ?? 0)
        for p in parts {
            g.merge(p.generator)
            s.merge(p.sasrec)
            for l in entropy.indices { entropy[l] += p.entropy[l] * Double(p.users) / Double(users.count) }
        }
        return (Comparison(generator: models.generator == nil ? nil : g, sasrec: models.sasrec == nil ? nil : s), entropy)
    }

    private struct Share {
        var generator = RankingMetrics(), sasrec = RankingMetrics()
        var entropy: [Double]
        let users: Int
    }

    /// One share of `measure`'s users.
    private func measure(_ models: Trained, users: [LeaveOneOut.User], share: Int, of shares: Int, log: SharedLog?,
                         target: (LeaveOneOut.User) -> (history: [Int32], item: Int32)) -> Share {
        var result = Share(entropy: [Double](repeating: 0, count: models.generator?.tokenizer.levels ?? 0), users: users.count)
        for (i, user) in users.enumerated() {
            let (history, item) = target(user)
            if let decoder = models.generator {
                let (coded, gaps) = decoder.tokenizer.coded(history.map(UInt64.init), gaps: user.gaps(ofFirst: history.count))
                let context = decoder.tokenizer.historyContext(coded, gaps: gaps, maxItems: config.maxHistory)
                let generated = decoder.generate(history: context.tokens, gaps: context.gaps, items: 1, beam: config.beam, excluded: Set(coded))
                result.generator.add(rank: generated.sessions.firstIndex { $0.items[0] == UInt64(item) }.map { $0 + 1 })
                for l in result.entropy.indices { result.entropy[l] += generated.entropy[l] / Double(users.count) }
            }
            if let sasrec = models.sasrec { result.sasrec.add(rank: sasrecRank(sasrec, history: history, target: item)) }
            if (i + 1) % 1000 == 0, let log { log("  \(i + 1)/\(users.count) users" + (shares > 1 ? " (share \(share + 1) of \(shares))" : "")) }
        }
        return result
    }

    /// Session examples drawn uniformly over (user, position) in the training parts, among the sessions
    /// the filter accepts.
    private func trainGenerator(split: LeaveOneOut, tokenizer: ItemTokenizer, ratings: [UInt64: Float], validation: [LeaveOneOut.User],
                                log say: SharedLog) -> (Seq2Seq, Double) {
        let mc = config.generator.fitted(to: tokenizer, maxHistory: config.maxHistory)
        let model = Seq2Seq(config: mc, seed: config.seed)
        var oc = AdamW.Config()
        (oc.learningRate, oc.weightDecay) = (config.generatorLearningRate, config.generatorWeightDecay)
        let trainer = GeneratorTrainer(model: model, tokenizer: tokenizer, maxHistory: config.maxHistory,
                                       sessionItems: config.sessionItems, optimizer: oc)
        let schedule = LearningRateSchedule.warmupCosine(peak: config.generatorLearningRate, warmup: config.generatorSteps / 20,
                                                         total: config.generatorSteps, floor: 0.1)
        // Positions with at least one item before them, among coded items.
        let users = split.users.filter { $0.train.filter { tokenizer.codebook.code(of: UInt64($0)) != nil }.count >= 2 }
        // Each user's coded training items with their gap buckets (0 without timestamps).
        let coded = users.map { u in
            let (items, gaps) = tokenizer.coded(u.train.map(UInt64.init), gaps: u.gaps(ofFirst: u.train.count))
            return zip(items, gaps ?? [Int32](repeating: 0, count: items.count)).map { (item: $0, gap: $1) }
        }
        let timed = config.training == .sequences ? coded.flatMap { config.generatorWindows.examples(of: $0, length: config.maxHistory) } : coded
        let sequences = timed.map { $0.map(\.item) }
        let gaps = config.generator.timeGaps ? timed.map { $0.map(\.gap) } : nil
        func accepted(_ u: Int, _ session: ArraySlice<UInt64>) -> Bool {
            let positives = session.filter { (ratings[UInt64(users[u].index) << 32 | $0] ?? 0) >= 4 }.count
            return config.filter.accepts(items: session.count, positives: positives)
        }
        var rng = SplitMix64(seed: config.seed)
        let unit = config.training == .sequences ? "users' sequences (every position's next \(config.sessionItems) items)" : "sessions of \(config.sessionItems) items"
        say("generator (\(mc.architecture.rawValue)): \(model.parameters.count) parameters, \(config.generatorSteps) steps of \(config.generatorBatch) \(unit)")
        let start = Date()
        var tokens = 0, recent: Float = 0
        var epochs = LengthBuckets(lengths: sequences.map { min($0.count, config.maxHistory + 1) }, batch: config.generatorBatch, seed: config.seed)
        func sampledSessions() -> [SessionExample] {
            var batch: [SessionExample] = []
            var draws = 0
            while batch.count < config.generatorBatch {
                draws += 1
                precondition(draws < 1000 * config.generatorBatch, "the session filter accepts almost no training session")
                let u = Int(rng.next() % UInt64(sequences.count))
                let s = sequences[u]
                let t = 1 + Int(rng.next() % UInt64(s.count - 1))
                let session = s[t..<min(s.count, t + config.sessionItems)]
                if accepted(u, session) { batch.append(SessionExample(history: Array(s[..<t]), session: Array(session), gaps: gaps.map { Array($0[u][..<t]) })) }
            }
            return batch
        }
        var measuring = 0.0
        var best = BestOnValidation(model.parameters, patience: config.generatorPatience)
        let average = config.generatorAverage.map { WeightAverage(parameters: model.parameters.tensors, decay: $0) }
        for step in 0..<config.generatorSteps {
            let rate = schedule.rate(at: step), seed = config.seed &+ UInt64(step)
            let (loss, n) = config.training == .sequences
                ? { let rows = epochs.next(); return trainer.sequenceStep(rows.map { sequences[$0] }, gaps: gaps.map { g in rows.map { g[$0] } },
                                                                          learningRate: rate, seed: seed) }()
                : trainer.step(sampledSessions(), learningRate: rate, seed: seed)
            tokens += n
            average?.update()
            recent = step == 0 ? loss : 0.98 * recent + 0.02 * loss
            if (step + 1) % 100 == 0 {
                let elapsed = Date().timeIntervalSince(start)
                say(String(format: "  step %d/%d%@  loss %.3f  %.0f tokens/s  %.0f s", step + 1, config.generatorSteps,
                           config.training == .sequences ? " (epoch \(epochs.epoch + 1))" : "", recent, Double(tokens) / (elapsed - measuring), elapsed - measuring))
            }
            if config.generatorValidateEvery > 0, (step + 1) % config.generatorValidateEvery == 0 || step + 1 == config.generatorSteps {
                let t0 = Date()
                average?.swap()
                let decoder = SessionDecoder(model: model, weights: model.decodingWeights(), tokenizer: tokenizer)
                let metrics = measure(Trained(generator: decoder, sasrec: nil), users: validation, share: 0, of: 1, log: nil) { ($0.train, $0.validation) }.generator
                let improving = best.record(metrics, at: step + 1)
                average?.swap()
                measuring += Date().timeIntervalSince(t0)
                say(String(format: "  step %d  validation HR@10 %.4f NDCG@10 %.4f  (measured in %.0f s)", step + 1, metrics.hitRate(10), metrics.ndcg(10),
                           Date().timeIntervalSince(t0)))
                guard improving else { break }
            }
        }
        let seconds = Date().timeIntervalSince(start) - measuring
        if let step = best.rewind() { say("generator: step \(step) kept (best validation NDCG@10)") }
        return (model, seconds)
    }

    /// SASRec trained for up to `sasrecEpochs`, measured on the validation items every
    /// `sasrecValidateEvery` epochs and returned at its best measurement (the time spent measuring is
    /// not counted as training).
    private func trainSASRec(split: LeaveOneOut, items: Int, validation users: [LeaveOneOut.User], log say: (String) -> Void) -> (SASRec, Double) {
        var sc = config.sasrec
        sc.items = items
        let model = SASRec(config: sc, seed: config.seed)
        var training = SASRec.Training()
        (training.epochs, training.batch, training.learningRate, training.seed) = (config.sasrecEpochs, config.sasrecBatch, config.sasrecLearningRate, config.seed)
        (training.cosine, training.average) = (config.sasrecCosine, config.sasrecAverage)
        let sequences = split.users.flatMap { config.sasrecWindows.examples(of: $0.train, length: sc.maxLength) }
        let (items, outside) = split.users.reduce((0, 0)) { ($0.0 + $1.train.count, $0.1 + max(0, $1.train.count - sc.maxLength - 1)) }
        say("sasrec: \(model.parameters.count) parameters, up to \(config.sasrecEpochs) epochs"
            + " over \(sequences.count) \(config.sasrecWindows == .all ? "windows" : "newest windows") of the training sequences"
            + " (\(outside) of the \(items) training items lie before the users' newest windows)"
            + (config.sasrecValidateEvery > 0 ? ", the best on the validation items kept (measured every \(config.sasrecValidateEvery))" : ""))
        let start = Date()
        var measuring = 0.0
        var best = BestOnValidation(model.parameters, patience: config.sasrecPatience)
        model.train(on: sequences, training) { epoch, loss in
            var line = String(format: "  epoch %d/%d  loss %.3f  %.0f s", epoch + 1, config.sasrecEpochs, loss, Date().timeIntervalSince(start) - measuring)
            defer { say(line) }
            guard config.sasrecValidateEvery > 0, (epoch + 1) % config.sasrecValidateEvery == 0 || epoch + 1 == config.sasrecEpochs else { return true }
            let t0 = Date()
            var metrics = RankingMetrics()
            for user in users { metrics.add(rank: sasrecRank(model, history: user.train, target: user.validation)) }
            measuring += Date().timeIntervalSince(t0)
            line += String(format: "  validation HR@10 %.4f NDCG@10 %.4f", metrics.hitRate(10), metrics.ndcg(10))
            return best.record(metrics, at: epoch + 1)
        }
        let seconds = Date().timeIntervalSince(start) - measuring
        if let epoch = best.rewind() { say("sasrec: epoch \(epoch) kept (best validation NDCG@10)") }
        return (model, seconds)
    }

    /// 1 + the number of unseen items SASRec scores above the target.
    private func sasrecRank(_ model: SASRec, history: [Int32], target: Int32) -> Int {
        let scores = model.itemScores(history: history)
        let seen = Set(history.map(Int.init))
        let targetScore = scores[Int(target)]
        var above = 0
        for j in scores.indices where !seen.contains(j) && j != Int(target) && scores[j] > targetScore { above += 1 }
        return above + 1
    }
}
