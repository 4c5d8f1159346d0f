import ArgumentParser
import BLAS
import Datasets
import Engine
import Evaluation
import Foundation
import Generator
import Models

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Offline evaluations.", subcommands: [EvalMovieLens.self])
}

/// `onerec eval movielens`: the generator and SASRec on one leave-one-out split, side by side.
struct EvalMovieLens: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "movielens", abstract: "Train and evaluate the generator and SASRec on MovieLens.")

    @Option(help: "ml-1m or ml-100k.") var dataset = "ml-1m"
    @Option(help: "Generator size: tiny, small or base.") var preset = "small"
    @Option(help: "Generator architecture: encoder-decoder (V1) or lazy (V2's lazy decoder-only).") var architecture = "encoder-decoder"
    @Option(help: "Lazy only: items with at least this many training interactions get an item-ID embedding (0: codes alone).") var itemIds = 0
    @Option(help: "Generator training steps (the default fits ML-1M in about 50 minutes on 2 cores).") var steps = 30_000
    @Option(help: "Generator sessions per training step.") var batch = 32
    @Option(help: "Generator peak learning rate (warm-up, then cosine decay).") var learningRate: Float = 2e-3
    @Option(help: "SASRec epochs.") var sasrecEpochs = 40
    @Option(help: "History items the generator reads (30 trains 1.6x faster than 50, and more steps beat a longer history here).") var history = 30
    @Option(help: "Items per training session (1 = next item only).") var sessionItems = 5
    @Option(help: "Train only on sessions with at least this many items.") var minSessionItems = 1
    @Option(help: "Train only on sessions with at least this many items rated 4 or 5.") var minSessionPositives = 0
    @Flag(help: "TIGER-style ablation: a dense decoder (one expert) trained on one target item per example.") var tiger = false
    @Option(help: "Evaluate on at most this many users.") var users = Int.max
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Flag(help: "Measure on the validation items only (for choosing settings); the test items are left unseen.") var validationOnly = false

    func run() throws {
        _ = try OpenBLAS.shared(.fromCPU(CoreSelection.cpuFlags()))
        guard let set = MovieLens(rawValue: dataset) else { throw ValidationError("--dataset takes ml-1m or ml-100k") }
        guard let arch = Seq2Seq.Architecture(rawValue: architecture) else { throw ValidationError("--architecture takes encoder-decoder or lazy") }
        guard let size = Seq2Seq.Config.preset(preset, architecture: arch) else { throw ValidationError("--preset takes tiny, small or base") }
        guard itemIds == 0 || arch == .lazy else { throw ValidationError("--item-ids needs --architecture lazy") }
        var config = MovieLensExperiment.Config()
        config.dataset = set
        config.generator = size
        config.generatorSteps = steps
        config.generatorBatch = batch
        config.generatorLearningRate = learningRate
        config.sasrecEpochs = sasrecEpochs
        config.maxHistory = history
        config.sessionItems = tiger ? 1 : sessionItems
        if tiger { config.generator.experts = 1; config.generator.topK = 1 }
        config.maxUsers = users
        config.filter.minimumItems = minSessionItems
        config.filter.minimumPositives = minSessionPositives
        config.seed = seed
        config.itemIDMinimum = itemIds
        config.test = !validationOnly
        let started = Date()
        let report = try MovieLensExperiment(config: config).run { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) }
        let name = "\(preset), \(arch.rawValue)\(tiger ? ", TIGER-style" : "")\(itemIds > 0 ? ", item IDs >= \(itemIds)" : ""), history \(history)"
        for (split, result) in [("validation", report.validation)] + (report.test.map { [("test", $0)] } ?? []) {
            print("")
            print("\(set.rawValue), leave-one-out, full ranking over unseen items, \(result.generator.users) users, \(split) items")
            print("generator (\(name), \(report.generatorParameters) parameters, trained \(Int(report.generatorSeconds)) s): \(result.generator)")
            print("sasrec    (\(report.sasrecParameters) parameters, trained \(Int(report.sasrecSeconds)) s): \(result.sasrec)")
            print(String(format: "generator / SASRec on the \(split) items: HR@10 %.3f, NDCG@10 %.3f", result.generator.hitRate(10) / max(result.sasrec.hitRate(10), 1e-12),
                         result.generator.ndcg(10) / max(result.sasrec.ndcg(10), 1e-12)))
        }
        print("generator output entropy per level (bits, validation): \(report.entropy.map { String(format: "%.3f", $0) }.joined(separator: " / "))")
        print(String(format: "total time %.0f s", Date().timeIntervalSince(started)))
    }
}
