import ArgumentParser
import BLAS
import Datasets
import Engine
import Evaluation
import Foundation
import Generator
import Models
import SemanticIDs
import Store

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Offline evaluations: the generator and SASRec on one leave-one-out split, side by side.",
        subcommands: [EvalMovieLens.self, EvalFile.self, EvalStore.self])
}

/// The settings every `eval` subcommand shares, and the run and report they share.
struct ExperimentOptions: ParsableArguments {
    @Option(help: "Generator size: tiny, small or base.") var preset = "small"
    @Option(help: "Generator width (default: the preset's).") var width: Int?
    @Option(help: "Generator feed-forward width per expert (default: the preset's).") var feedForward: Int?
    @Option(help: "Generator decoder layers (1: chosen for the lazy model on ML-1M's validation items; either architecture).") var decoderLayers = GeneratorRecipe().decoderLayers
    @Option(help: "Generator layers over the history (encoder-decoder: its encoder's; lazy: causal self-attention over the item positions; default: the preset's, 2 and 0).") var contextLayers: Int?
    @Option(help: "Generator dropout (0.2: chosen on ML-1M's validation items).") var dropout: Float = GeneratorRecipe().dropout
    @Flag(inversion: .prefixedNo, help: "Lazy only: each history item adds an embedding of its time gap to the item before it (log2 buckets of seconds; default: on for lazy, chosen on ML-1M's validation items).") var timeGaps: Bool?
    @Option(help: "Lazy only: share of history items read without their item ID in training (as cold items are).") var itemDropout: Float = 0
    @Flag(help: "Generator output head tied to the token embeddings.") var tiedHead = false
    @Flag(inversion: .prefixedNo, help: "Lazy only: every decoder token adds the context's newest item, so the first code's query depends on the user (default: on for lazy).") var newestItemQuery: Bool?
    @Flag(inversion: .prefixedNo, help: "Lazy only: the cross-attention adds a learned bias by how far back each history item is (default: on for lazy).") var recencyBias: Bool?
    @Option(help: "Generator architecture: encoder-decoder (V1) or lazy (V2's lazy decoder-only).") var architecture = "lazy"
    @Option(help: "Lazy only: items with at least this many training interactions get an item-ID embedding (0: codes alone; default 5 for lazy).") var itemIds: Int?
    @Option(help: "Semantic-ID levels (code tokens per item; 2: chosen on ML-1M's validation items, the daemon's codebooks have 3).") var levels = GeneratorRecipe().levels
    @Option(help: "Semantic-ID codes per level (default: about twice the levels-th root of the catalog's size).") var codesPerLevel: Int?
    @Option(help: "Generator training steps (14,000: about SASRec's training time at its default epochs when the two train side by side; the schedule chosen on ML-1M's validation items).") var steps = GeneratorRecipe().decaySteps
    @Option(help: "Generator users' sequences (--training sequences) or sessions (--training sessions) per training step.") var batch = GeneratorRecipe().batch
    @Option(help: "Generator peak learning rate (warm-up, then cosine decay).") var learningRate: Float = GeneratorRecipe().learningRate
    @Option(help: "Generator weight decay (decoupled, on matrices).") var weightDecay: Float = 0.01
    @Option(help: "Measure and keep an exponential moving average of the generator's weights with this decay per step (0: the weights as trained; 0.999: chosen on ML-1M's validation items).") var average: Float = GeneratorRecipe().average
    @Option(help: "Generator training: sequences (lazy only: each step --batch users' whole sequences, every position's next session a target) or sessions (--batch sampled (history, session) examples a step); default sequences for lazy, sessions for encoder-decoder.") var training: String?
    @Option(help: "Measure the generator on the validation items every this many steps and keep its best step (0: keep the last).") var validateEvery = 1_000
    @Option(help: "Stop the generator after this many measurements in a row without a better validation NDCG@10.") var patience = 3
    @Option(help: "SASRec epochs at most (36: chosen on ML-1M's validation items).") var sasrecEpochs = 36
    @Option(help: "SASRec sequences per batch.") var sasrecBatch = 64
    @Option(help: "SASRec learning rate (with --sasrec-schedule cosine, its peak).") var sasrecLearningRate: Float = 2e-3
    @Option(help: "SASRec learning-rate schedule: constant, or cosine (the generator's: warm-up over 5% of --sasrec-epochs, then cosine decay to a tenth).") var sasrecSchedule = "constant"
    @Option(help: "Measure and keep an exponential moving average of SASRec's weights with this decay per batch (0: the weights as trained; 0.996: chosen on ML-1M's validation items).") var sasrecAverage: Float = 0.996
    @Option(help: "SASRec dropout.") var sasrecDropout: Float = 0.2
    @Option(help: "SASRec width.") var sasrecWidth = 128
    @Option(help: "Models to train and measure: both, generator or sasrec (one alone while tuning it).") var models = "both"
    @Option(help: "Measure SASRec on the validation items every this many epochs and keep its best epoch (0: keep the last).") var sasrecValidateEvery = 5
    @Option(help: "Stop SASRec after this many measurements in a row without a better validation NDCG@10.") var sasrecPatience = 3
    @Option(help: "History items the generator reads.") var history = GeneratorRecipe().maxHistory
    @Option(help: "The generator's training sequences (with --training sequences): newest (each user's newest items, as many as it reads, plus one) or all (every user's whole training sequence, cut into windows of that size); default all with --training sequences (chosen on ML-1M's validation items), newest with sessions.") var windows: String?
    @Option(help: "SASRec's training sequences: newest or all (as --windows, with SASRec's length; all: chosen on ML-1M's validation items).") var sasrecWindows = "all"
    @Option(help: "Items per training session (1 = next item only; default 1 with --training sequences, 5 with sessions).") var sessionItems: Int?
    @Option(help: "Train only on sessions with at least this many items.") var minSessionItems = 1
    @Option(help: "Train only on sessions with at least this many items rated 4 or more.") var minSessionPositives = 0
    @Flag(help: "TIGER-style ablation: a dense decoder (one expert) trained on one target item per example.") var tiger = false
    @Option(help: "Evaluate on at most this many users.") var users = Int.max
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Flag(help: "Measure on the validation items only (for choosing settings); the test items are left unseen.") var validationOnly = false

    @discardableResult
    func run(on events: InteractionLog, name: String) throws -> RankingExperiment.Report {
        _ = try OpenBLAS.shared(.fromCPU(CoreSelection.cpuFlags()))
        guard let arch = Seq2Seq.Architecture(rawValue: architecture) else { throw ValidationError("--architecture takes encoder-decoder or lazy") }
        guard let size = Seq2Seq.Config.preset(preset, architecture: arch) else { throw ValidationError("--preset takes tiny, small or base") }
        let itemIds = itemIds ?? (arch == .lazy ? GeneratorRecipe().itemIDMinimum : 0)
        guard itemIds == 0 || arch == .lazy else { throw ValidationError("--item-ids needs --architecture lazy") }
        guard let mode = RankingExperiment.GeneratorTraining(rawValue: training ?? (arch == .lazy ? "sequences" : "sessions")) else { throw ValidationError("--training takes sequences or sessions") }
        guard mode == .sessions || arch == .lazy else { throw ValidationError("--training sequences needs --architecture lazy (or use --training sessions)") }
        guard mode == .sessions || (minSessionItems <= 1 && minSessionPositives == 0) else {
            throw ValidationError("--training sequences trains on every position: it takes no session filter (use --training sessions)")
        }
        guard let which = RankingExperiment.Models(rawValue: models) else { throw ValidationError("--models takes both, generator or sasrec") }
        guard let windows = TrainingWindows(rawValue: windows ?? (mode == .sequences ? "all" : "newest")) else { throw ValidationError("--windows takes newest or all") }
        guard let sasrecWindows = TrainingWindows(rawValue: sasrecWindows) else { throw ValidationError("--sasrec-windows takes newest or all") }
        guard windows == .newest || mode == .sequences else { throw ValidationError("--windows all needs --training sequences (sampled sessions read every position already)") }
        guard ["constant", "cosine"].contains(sasrecSchedule) else { throw ValidationError("--sasrec-schedule takes constant or cosine") }
        var config = RankingExperiment.Config()
        config.generator = size
        if let width { config.generator.width = width }
        if let feedForward { config.generator.feedForward = feedForward }
        if let contextLayers { config.generator.encoderLayers = contextLayers }
        config.generator.tiedHead = tiedHead
        guard newestItemQuery != true || arch == .lazy else { throw ValidationError("--newest-item-query needs --architecture lazy") }
        if let newestItemQuery { config.generator.newestItemQuery = newestItemQuery }
        guard recencyBias != true || arch == .lazy else { throw ValidationError("--recency-bias needs --architecture lazy") }
        if let recencyBias { config.generator.recencyBias = recencyBias }
        (config.generator.decoderLayers, config.generator.dropout) = (decoderLayers, dropout)
        guard (0..<1).contains(itemDropout) && (itemDropout == 0 || arch == .lazy) else { throw ValidationError("--item-dropout takes [0, 1) with --architecture lazy") }
        config.generator.itemDropout = itemDropout
        guard timeGaps != true || arch == .lazy else { throw ValidationError("--time-gaps needs --architecture lazy") }
        config.generator.timeGaps = timeGaps ?? (arch == .lazy && GeneratorRecipe().timeGaps)
        guard config.generator.width % config.generator.heads == 0 else { throw ValidationError("--width must be a multiple of the \(config.generator.heads) heads") }
        guard (1...4).contains(levels) else { throw ValidationError("--levels takes 1...4") }
        guard (2...8192).contains(codesPerLevel ?? 2) else { throw ValidationError("--codes-per-level takes 2...8192") }
        (config.codes.levels, config.codes.codesPerLevel) = (levels, codesPerLevel)
        config.generatorSteps = steps
        config.generatorBatch = batch
        (config.generatorLearningRate, config.generatorWeightDecay) = (learningRate, weightDecay)
        guard (0..<1).contains(average) else { throw ValidationError("--average takes [0, 1)") }
        config.generatorAverage = average > 0 ? average : nil
        (config.sasrecEpochs, config.sasrecValidateEvery, config.sasrecPatience) = (sasrecEpochs, sasrecValidateEvery, sasrecPatience)
        config.maxHistory = history
        (config.generatorWindows, config.sasrecWindows) = (windows, sasrecWindows)
        config.sessionItems = tiger ? 1 : sessionItems ?? (mode == .sequences ? GeneratorRecipe().targetItems : 5)
        if tiger { (config.generator.experts, config.generator.topK) = (1, 1) }
        config.maxUsers = users
        config.filter.minimumItems = minSessionItems
        config.filter.minimumPositives = minSessionPositives
        config.seed = seed
        config.itemIDMinimum = itemIds
        config.test = !validationOnly
        config.training = mode
        (config.generatorValidateEvery, config.generatorPatience) = (validateEvery, patience)
        config.models = which
        (config.sasrecBatch, config.sasrecLearningRate, config.sasrec.dropout, config.sasrec.width) = (sasrecBatch, sasrecLearningRate, sasrecDropout, sasrecWidth)
        config.sasrecCosine = sasrecSchedule == "cosine"
        guard (0..<1).contains(sasrecAverage) else { throw ValidationError("--sasrec-average takes [0, 1)") }
        config.sasrecAverage = sasrecAverage > 0 ? sasrecAverage : nil
        let started = Date()
        let report = try RankingExperiment(config: config).run(on: events, name: name) { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) }
        let chosen = config.generator
        let model = "\(preset) (width \(chosen.width), feed-forward \(chosen.feedForward), \(chosen.decoderLayers) decoder layers\(arch == .lazy && chosen.encoderLayers > 0 ? ", \(chosen.encoderLayers) context layers" : "")\(chosen.tiedHead ? ", tied head" : "")\(chosen.newestItemQuery ? ", newest-item query" : "")\(chosen.recencyBias ? ", recency bias" : "")\(chosen.timeGaps ? ", time gaps" : "")\(chosen.dropout > 0 ? ", dropout \(chosen.dropout)" : "")\(chosen.itemDropout > 0 ? ", item dropout \(chosen.itemDropout)" : "")), \(arch.rawValue)\(mode == .sequences ? ", trained on sequences" : "")\(tiger ? ", TIGER-style" : "")\(itemIds > 0 ? ", item IDs >= \(itemIds)" : ""), history \(history)\(windows == .all ? ", all windows" : "")"
        for (split, result) in [("validation", report.validation)] + (report.test.map { [("test", $0)] } ?? []) {
            print("")
            print("\(name), leave-one-out, full ranking over unseen items, \((result.generator ?? result.sasrec)?.users ?? 0) users, \(split) items")
            if let g = result.generator, let t = report.generator {
                print("generator (\(model), \(t.parameters) parameters, trained \(Int(t.seconds)) s): \(g)")
            }
            if let s = result.sasrec, let t = report.sasrec { print("sasrec    (\(t.parameters) parameters, trained \(Int(t.seconds)) s): \(s)") }
            if let g = result.generator, let s = result.sasrec {
                // A ratio over a SASRec figure of 0 (a model barely trained) has no meaning: "-".
                let ratio = { (a: Double, b: Double) in b > 0 ? String(format: "%.3f", a / b) : "-" }
                print("generator / SASRec on the \(split) items: HR@10 \(ratio(g.hitRate(10), s.hitRate(10))), NDCG@10 \(ratio(g.ndcg(10), s.ndcg(10)))")
            }
        }
        if !report.entropy.isEmpty {
            print("generator output entropy per level (bits, validation): \(report.entropy.map { String(format: "%.3f", $0) }.joined(separator: " / "))")
        }
        print(String(format: "total time %.0f s", Date().timeIntervalSince(started)))
        return report
    }
}

/// `onerec eval movielens`: MovieLens, fetched on first use.
struct EvalMovieLens: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "movielens", abstract: "Train and evaluate the generator and SASRec on MovieLens.")
    @Option(help: "ml-1m or ml-100k.") var dataset = "ml-1m"
    @OptionGroup var options: ExperimentOptions

    func run() throws {
        guard let set = MovieLens(rawValue: dataset) else { throw ValidationError("--dataset takes ml-1m or ml-100k") }
        try options.run(on: try MovieLens.load(try set.interactionsFile()), name: set.rawValue)
    }
}

/// `onerec eval file`: any interaction log as CSV or TSV (see `InteractionFile`).
struct EvalFile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "file", abstract: "Train and evaluate the generator and SASRec on an interaction log file.",
        discussion: "CSV or TSV with a header naming user (user, user_id), item (item, item_id, movie_id) and timestamp (timestamp, time, ts) columns, and optionally rating or positive (1/0); a malformed row is refused with its line number.")
    @Option(help: "The interaction log file.") var interactions: String
    @OptionGroup var options: ExperimentOptions

    func run() throws {
        try options.run(on: try InteractionFile.load(interactions), name: interactions)
    }
}

/// `onerec eval store`: the positive interactions of a daemon's store, read-only (safe beside a running daemon).
struct EvalStore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Train and evaluate the generator and SASRec on the positive interactions in a daemon's store.",
        discussion: "Opens the store read-only, so it can run beside the daemon: compare architectures on your own traffic before switching trainer.architecture.")
    @Option(help: "The store directory.") var path: String
    @OptionGroup var options: ExperimentOptions

    func run() throws {
        guard FileManager.default.fileExists(atPath: path + "/data.mdb") else { throw CommandError("no store at \(path)") }
        let store = try OpenStore.readOnly(path: path).history()
        var events = InteractionLog()
        try store.forEachInteraction { user, interacted in
            if interacted.positive { events.append(user: "\(user)", item: "\(interacted.itemID)", rating: 5, timestamp: interacted.timestampMs / 1000) }
        }
        guard !events.events.isEmpty else { throw CommandError("the store at \(path) holds no positive interactions yet") }
        try options.run(on: events, name: path)
    }
}
