import Alignment
import ArgumentParser
import BLAS
import Engine
import Evaluation
import Foundation
import Models
import Simulator

struct Align: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Preference alignment: a round in the running daemon (default), or the offline report.",
        subcommands: [AlignRound.self, AlignPairs.self, AlignReport.self], defaultSubcommand: AlignRound.self)
}

/// `onerec align report`: OneRec's Table 1 on the built-in world, with the true utility column.
struct AlignReport: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Reward-model scores and true utility of the base and aligned generators on the simulator.")

    @Option(help: "Users in the world.") var users = 10_000
    @Option(help: "Items in the world.") var items = 2000
    @Option(help: "Logged sessions per user.") var sessions = 10
    @Option(help: "Generator size: tiny, small or base.") var preset = "tiny"
    @Option(help: "Generator training steps.") var steps = 1500
    @Option(help: "Alignment rounds per objective.") var rounds = 3
    @Option(help: "Share of users sampled per round (r_DPO).") var userShare = 0.01
    @Option(help: "Candidate sessions per user.") var candidates = 32
    @Option(help: "Optimisation steps per round.") var roundSteps = 50
    @Option(help: "Objectives, comma separated: dpo, ipo, cdpo, rdpo, cpo, simpo, sdpo.") var objectives = "dpo,ipo,cdpo,rdpo,cpo,simpo,sdpo"
    @Option(help: "Held-out users evaluated.") var evaluationUsers = 200
    @Option(help: "Seeds (worlds, models and samples), comma separated; figures are averaged over them.") var seeds = "1,2,3"
    @Option(help: "Instead of the table: the r_DPO ablation (DPO only) for these user shares, comma separated.") var ablation: String?

    func run() throws {
        _ = try OpenBLAS.shared(.fromCPU(CoreSelection.cpuFlags()))
        var config = AlignmentExperiment.Config()
        config.world.users = users
        config.world.items = items
        config.sessionsPerUser = sessions
        guard let size = Seq2Seq.Config.preset(preset) else { throw ValidationError("--preset takes tiny, small or base") }
        config.generator = size
        config.generatorSteps = steps
        config.rounds = rounds
        config.userShare = userShare
        config.candidates = candidates
        config.alignment.steps = roundSteps
        config.evaluationUsers = evaluationUsers
        config.objectives = try objectives.split(separator: ",").map { name in
            switch name {
            case "dpo": .dpo(beta: 0.1)
            case "ipo": .ipo(beta: 0.1)
            case "cdpo": .cdpo(beta: 0.1, epsilon: 0.1)
            case "rdpo": .rdpo(beta: 0.1, epsilon: 0.1)
            case "cpo": .cpo(beta: 0.1)
            case "simpo": .simpo(beta: 2, gamma: 0.5)
            case "sdpo": .sdpo(beta: 0.1)
            default: throw ValidationError("unknown objective \(name)")
            }
        }
        let seedList = try seeds.split(separator: ",").map { s in
            guard let v = UInt64(s) else { throw ValidationError("--seeds takes numbers, comma separated") }
            return v
        }
        let shares = try ablation.map { list in
            try list.split(separator: ",").map { s in
                guard let v = Double(s), v > 0, v <= 1 else { throw ValidationError("--ablation takes shares in (0, 1], comma separated") }
                return v
            }
        }
        guard !seedList.isEmpty, userShare > 0, userShare <= 1, rounds >= 1 else {
            throw ValidationError("--seeds needs a seed, --user-share a share in (0, 1] and --rounds at least 1")
        }
        let say = { (line: String) in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        let started = Date()
        func experiment(seed: UInt64) -> AlignmentExperiment {
            var c = config
            (c.seed, c.world.seed) = (seed, seed)
            say("seed \(seed)")
            return AlignmentExperiment(config: c)
        }
        let lines = if let shares {
            AlignmentTable.ablationLines(try seedList.map { seed in
                let (base, rounds) = try experiment(seed: seed).ablation(shares: shares, log: say)
                return (seed, base, rounds)
            })
        } else {
            AlignmentTable(results: try seedList.map { try experiment(seed: $0).run(log: say) }).lines
        }
        print("")
        lines.forEach { print($0) }
        print(String(format: "total time %.0f s", Date().timeIntervalSince(started)))
    }
}
