import Client
import Foundation
import Glibc

/// A daemon the serving benchmarks start and stop: `onerec serve` on the embedded simulator in a
/// temporary directory, training the given preset, until it serves its first model version.
final class BenchDaemon {
    let process = Process()
    let directory: String
    let client: DaemonClient
    let port: Int
    private var admin: DaemonClient?

    /// `environment`: more settings, over the ones above (a cluster role, Kafka).
    init(preset: String, beam: Int, port: Int, environment extra: [String: String] = [:]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("onerec-bench-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["serve"]
        var environment = ProcessInfo.processInfo.environment
        environment.merge(["ONEREC_STORE_PATH": directory + "/store", "ONEREC_HTTP_PORT": "\(port)", "ONEREC_TRAINER_PRESET": preset,
                           "ONEREC_SERVING_BEAM": "\(beam)", "ONEREC_TRAINER_PUBLISH_EVERY_STEPS": "50",
                           "ONEREC_SIMULATOR_SESSIONS_PER_SECOND": "300", "ONEREC_LOG_LEVEL": "warning"].merging(extra) { $1 }) { $1 }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        client = DaemonClient(base: URL(string: "http://127.0.0.1:\(port)")!, token: nil, tokenSource: directory + "/store/admin-token")
        self.port = port
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Recommendation load for this daemon; a request slower than `timeout` seconds fails.
    func load(timeout: Double) -> LoadClient { LoadClient(port: port, timeout: timeout) }

    /// The serving version and the learner's steps so far.
    func learner() async -> (version: Int?, steps: Int) { Self.learner(in: await status()) }

    /// The same from a status already read.
    static func learner(in status: [String: Any]?) -> (version: Int?, steps: Int) {
        ((status?["serving"] as? [String: Any])?["version"] as? Int, (status?["learner"] as? [String: Any])?["steps"] as? Int ?? 0)
    }

    /// `GET /v1/admin/status`, nil until the daemon answers.
    func status() async -> [String: Any]? {
        if admin == nil, let token = try? String(contentsOfFile: directory + "/store/admin-token", encoding: .utf8) {
            admin = DaemonClient(base: client.base, token: token.trimmingCharacters(in: .whitespacesAndNewlines), tokenSource: "")
        }
        return try? await admin?.call("GET", "/v1/admin/status")
    }

    /// Waits until the daemon answers `GET /healthz`.
    func waitForHealth(timeout: Double = 120) async throws {
        let started = Date()
        while (try? await client.call("GET", "/healthz")) == nil {
            guard process.isRunning else { throw BenchmarkError("the daemon exited with status \(process.terminationStatus) before it answered") }
            guard Date().timeIntervalSince(started) < timeout else { throw BenchmarkError("the daemon did not answer within \(Int(timeout)) s") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Waits for the first served version; returns the seconds it took.
    func waitForFirstModel(timeout: Double = 600) async throws -> Double {
        let started = Date()
        while await learner().version == nil {
            guard process.isRunning, Date().timeIntervalSince(started) < timeout else { throw BenchmarkError("the daemon served no model within \(Int(timeout)) s") }
            try await Task.sleep(for: .seconds(1))
        }
        return Date().timeIntervalSince(started)
    }

    /// The daemon's resident memory, MiB: its own (heap and stacks: RssAnon) and file pages mapped in
    /// (RssFile: mostly the LMDB store, which grows with the data and which the kernel can drop).
    var residentMiB: (anonymous: Double, file: Double)? { Self.residentMiB(pid: process.processIdentifier) }

    /// The same, for any process.
    static func residentMiB(pid: Int32) -> (anonymous: Double, file: Double)? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Double? {
            status.split(separator: "\n").first { $0.hasPrefix(name) }.flatMap { Double($0.split(separator: " ").dropFirst().first ?? "") }.map { $0 / 1024 }
        }
        guard let anonymous = field("RssAnon:"), let file = field("RssFile:") else { return nil }
        return (anonymous, file)
    }
}
