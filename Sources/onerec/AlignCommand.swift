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
        subcommands: [AlignRound.self, AlignReport.self], defaultSubcommand: AlignRound.self)
}

/// `onerec align report`: OneRec's Table 1 on the built-in world, with the true utility column.
struct AlignReport: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Reward-model scores and true utility of the base and aligned generators on the simulator.")

    @Option(help: "Users in the world.") var users = 1000
    @Option(help: "Items in the world.") var items = 2000
    @Option(help: "Logged sessions per user.") var sessions = 10
    @Option(help: "Generator size: tiny, small or base.") var preset = "tiny"
    @Option(help: "Generator training steps.") var steps = 1500
    @Option(help: "Alignment rounds per objective.") var rounds = 2
    @Option(help: "Users sampled per round.") var usersPerRound = 100
    @Option(help: "Candidate sessions per user.") var candidates = 32
    @Option(help: "Optimisation steps per round.") var roundSteps = 50
    @Option(help: "Objectives, comma separated: dpo, ipo, cdpo, rdpo, cpo, simpo, sdpo.") var objectives = "dpo,ipo,cdpo,rdpo,cpo,simpo,sdpo"
    @Option(help: "Held-out users evaluated.") var evaluationUsers = 200
    @Option(help: "Seed.") var seed: UInt64 = 1

    func run() throws {
        _ = try OpenBLAS.shared(.fromCPU(CoreSelection.cpuFlags()))
        var config = AlignmentExperiment.Config()
        config.world.users = users
        config.world.items = items
        config.world.seed = seed
        config.sessionsPerUser = sessions
        guard let size = Seq2Seq.Config.preset(preset) else { throw ValidationError("--preset takes tiny, small or base") }
        config.generator = size
        config.generatorSteps = steps
        config.rounds = rounds
        config.usersPerRound = usersPerRound
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
        let started = Date()
        let experiment = AlignmentExperiment(config: config)
        let rows = try experiment.run { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) }
        print("")
        print(AlignmentExperiment.header)
        for row in rows { print(experiment.describe(row)) }
        print(String(format: "total time %.0f s", Date().timeIntervalSince(started)))
    }
}
