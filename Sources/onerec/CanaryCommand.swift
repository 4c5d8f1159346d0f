import ArgumentParser
import Client
import Foundation

/// `onerec canary start VERSION | status | stop`: a candidate served to a share of users until their
/// sessions decide it.
struct CanaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canary", abstract: "Serve a version to a share of users until their sessions promote or roll it back.",
        subcommands: [CanaryStart.self, CanaryStatusCommand.self, CanaryStop.self])
}

struct CanaryStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start a canary of a stored version.")
    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "The candidate version.") var version: UInt32
    @Option(help: "Share of users it serves (default: the daemon's canary.share).") var share: Double?

    func run() async throws {
        let canary = try await daemon.client().call("POST", "/v1/admin/canary/\(version)" + (share.map { "?share=\($0)" } ?? ""))
        let settings = canary["settings"] as? [String: Any] ?? [:]
        print("canary \(canary["id"] ?? "?"): version \(version) serves \(settings["share"] ?? "?") of users; it decides at \(settings["sessions"] ?? "?") sessions an arm")
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
