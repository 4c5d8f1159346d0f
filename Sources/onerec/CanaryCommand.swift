import Alignment
import ArgumentParser
import BLAS
import Client
import Evaluation
import Foundation
import Simulator

/// `onerec canary start VERSION | status | stop`: a candidate served to a share of users until their
/// sessions decide it.
struct CanaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canary", abstract: "Serve a version to a share of users until their sessions promote or roll it back.",
        subcommands: [CanaryStart.self, CanaryStatusCommand.self, CanaryStop.self, CanaryReport.self])
}

/// `onerec canary report`: the canary against the reward-model gate on the simulator, over seeds.
struct CanaryReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "On the simulator: candidates aligned with the log's and with a corrupted reward model, through the reward gate and a canary.")
    @Option(help: "Users in the world.") var users = 2000
    @Option(help: "Items in the world.") var items = 1000
    @Option(help: "Generator training steps.") var steps = 1500
    @Option(help: "Optimisation steps of the alignment round.") var roundSteps = 50
    @Option(help: "Share of users sampled for the round's pairs.") var userShare = 0.05
    @Option(help: "Share of users the candidate serves.") var share = 0.5
    @Option(help: "Sessions each arm needs for the decision (the daemon's canary.sessions default).") var sessions = 2000
    @Option(help: "Seeds, comma separated.") var seeds = "1,2,3,4,5,6,7,8,9,10"

    func run() throws {
        _ = try OpenBLAS.shared(.fromCPU(CoreSelection.cpuFlags()))
        let seedList = try seeds.split(separator: ",").map { s in
            guard let v = UInt64(s.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--seeds takes integers, got '\(s)'") }
            return v
        }
        var all: [(UInt64, CanaryExperiment.Decision)] = []
        for seed in seedList {
            var config = CanaryExperiment.Config()
            (config.alignment.world.users, config.alignment.world.items, config.alignment.world.seed) = (users, items, seed)
            (config.alignment.generatorSteps, config.alignment.alignment.steps, config.alignment.userShare) = (steps, roundSteps, userShare)
            (config.alignment.rounds, config.alignment.seed) = (1, seed)
            (config.canary.share, config.canary.sessions) = (share, sessions)
            if let problem = config.canary.problem { throw ValidationError(problem) }
            print("seed \(seed)")
            let decisions = try CanaryExperiment(config: config).run { print($0) }
            all += decisions.map { (seed, $0) }
        }
        print("")
        print("| seed | candidate | reward gate (before -> after) | true watch per session (before -> after) | canary | sessions |")
        print("|---|---|---|---|---|---|")
        for (seed, d) in all {
            print(String(format: "| %llu | %@ | %.4f -> %.4f (%@) | %.2f -> %.2f s | %@ | %d |", seed, d.candidate, d.gateBefore, d.gateAfter,
                         d.gatePasses ? "passes" : "refuses", d.trueBefore, d.trueAfter, d.state.rawValue, d.sessions))
        }
        // Errors of each gate: promoting a candidate that is not truly better, or not promoting one that is.
        let decisions = all.map(\.1)
        let (better, worse) = (decisions.filter(\.trulyBetter).count, decisions.filter { !$0.trulyBetter }.count)
        print("")
        print("\(decisions.count) candidates: \(better) truly better, \(worse) not")
        print("reward gate alone: false promotions \(decisions.filter { $0.gatePasses && !$0.trulyBetter }.count) of \(worse), "
            + "false rejections \(decisions.filter { !$0.gatePasses && $0.trulyBetter }.count) of \(better)")
        print("canary: false promotions \(decisions.filter { $0.state == .promoted && !$0.trulyBetter }.count) of \(worse), "
            + "false rejections \(decisions.filter { $0.state != .promoted && $0.trulyBetter }.count) of \(better), "
            + "undecided \(decisions.filter { $0.state == .running }.count)")
        print("reward gate, then canary (the daemon with canary.afterAlignment): promoted \(decisions.filter { $0.gatePasses && $0.state == .promoted }.count), "
            + "of them not truly better \(decisions.filter { $0.gatePasses && $0.state == .promoted && !$0.trulyBetter }.count)")
        for name in Set(decisions.map(\.candidate)).sorted() {
            let counts = decisions.filter { $0.candidate == name }.map(\.sessions).sorted()
            print("sessions to a decision, \(name): median \(counts[counts.count / 2]), min \(counts.first!), max \(counts.last!)")
        }
    }
}

struct CanaryStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start a canary of a stored version.")
    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "The candidate version.") var version: UInt32
    @Option(help: "Share of users it serves (default: the daemon's canary.share).") var share: Double?

    func run() async throws {
        let canary = try await daemon.client().call("POST", "/v1/admin/canary/\(version)" + (share.map { "?share=\($0)" } ?? ""))
        let settings = canary["settings"] as? [String: Any] ?? [:]
        let share = (settings["share"] as? Double).map { String(format: "%.1f%%", $0 * 100) } ?? "?"
        print("canary \(canary["id"] ?? "?"): version \(version) serves \(share) of users; it decides at \(settings["sessions"] ?? "?") sessions an arm")
    }
}

struct CanaryStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "The running canary's arms and the recent decisions.")
    @OptionGroup var daemon: DaemonOptions
    @Flag(help: "Print the daemon's JSON.") var json = false

    func run() async throws {
        let status = try await daemon.client().call("GET", "/v1/admin/canary")
        if json {
            print(String(decoding: try JSONSerialization.data(withJSONObject: status, options: [.sortedKeys, .prettyPrinted]), as: UTF8.self))
            return
        }
        if let running = status["running"] as? [String: Any] {
            print("canary \(running["id"] ?? "?"): candidate \(running["candidate"] ?? "?")")
            for (name, key) in [("control", "control"), ("candidate", "candidate")] {
                let arm = status[key] as? [String: Any] ?? [:]
                let watch = (arm["watchPerSession"] as? Double).map { String(format: "%.2f s", $0) } ?? "?"
                print("  \(name): \(arm["sessions"] ?? 0) sessions, watch per session \(watch)")
            }
            if let evidence = running["evidence"] as? [String: Any], let interval = evidence["interval"] as? [Double], interval.count == 2 {
                print(String(format: "  difference %+.2f s (95%% interval %+.2f to %+.2f), z %.2f", evidence["difference"] as? Double ?? 0, interval[0], interval[1],
                             evidence["z"] as? Double ?? 0))
            }
        } else {
            print("no canary running")
        }
        for c in (status["recent"] as? [[String: Any]] ?? []) where c["state"] as? String != "running" {
            print("canary \(c["id"] ?? "?") (version \(c["candidate"] ?? "?")): \(c["reason"] ?? c["state"] ?? "")")
        }
    }
}

struct CanaryStop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop the running canary; the promoted version serves everyone.")
    @OptionGroup var daemon: DaemonOptions

    func run() async throws {
        let canary = try await daemon.client().call("POST", "/v1/admin/canary/stop")
        print("canary \(canary["id"] ?? "?") stopped; version \(canary["controlAtStart"] ?? "?") and its successors serve everyone")
    }
}
