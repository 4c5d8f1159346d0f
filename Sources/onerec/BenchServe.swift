import ArgumentParser
import Foundation
import Glibc

/// `onerec bench serve`: recommendation latency over HTTP while the daemon trains. Starts `onerec serve`
/// (embedded simulator, the configured preset) in a temporary directory, waits for its first model
/// version, then has 1 and then N clients request recommendations for random users for a while; prints
/// p50/p99, requests/s, refusals (503) and the training steps/s measured over the same time.
struct BenchServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Recommendation latency p50/p99 over HTTP while training runs.")
    @Option(help: "Generator size: tiny, small or base.") var preset = "small"
    @Option(help: "Concurrent clients, comma separated.") var concurrency = "1,16"
    @Option(help: "Seconds per concurrency level.") var seconds = 20.0
    @Option(help: "Beam width of serving.") var beam = 16
    @Option(help: "HTTP port for the daemon.") var port = 18790

    func run() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onerec-bench-serve-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        daemon.arguments = ["serve"]
        var environment = ProcessInfo.processInfo.environment
        environment.merge(["ONEREC_STORE_PATH": dir + "/store", "ONEREC_HTTP_PORT": "\(port)", "ONEREC_TRAINER_PRESET": preset,
                           "ONEREC_SERVING_BEAM": "\(beam)", "ONEREC_TRAINER_PUBLISH_EVERY_STEPS": "50",
                           "ONEREC_SIMULATOR_SESSIONS_PER_SECOND": "300", "ONEREC_LOG_LEVEL": "warning"]) { $1 }
        daemon.environment = environment
        daemon.standardOutput = FileHandle.nullDevice
        daemon.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try daemon.run()
        defer {
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
        }
        let client = DaemonClient(base: URL(string: "http://127.0.0.1:\(port)")!, token: nil, tokenSource: dir + "/store/admin-token")
        func learnerSteps() async -> (version: Int?, steps: Int) {
            guard let token = try? String(contentsOfFile: dir + "/store/admin-token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
                  let status = try? await DaemonClient(base: client.base, token: token, tokenSource: "").call("GET", "/v1/admin/status") else { return (nil, 0) }
            return ((status["serving"] as? [String: Any])?["version"] as? Int, (status["learner"] as? [String: Any])?["steps"] as? Int ?? 0)
        }
        let started = Date()
        while await learnerSteps().version == nil {
            guard daemon.isRunning, Date().timeIntervalSince(started) < 600 else { throw CommandError("the daemon served no model within 600 s") }
            try await Task.sleep(for: .seconds(1))
        }
        print("daemon: \(preset) generator, beam \(beam), trained and training; first version after \(Int(Date().timeIntervalSince(started))) s; \(ProcessInfo.processInfo.activeProcessorCount) cores")
        for clients in concurrency.split(separator: ",").compactMap({ Int($0) }) {
            let latencies = Latencies()
            let before = await learnerSteps().steps
            let start = Date()
            let refused = await withTaskGroup(of: Int.self) { group in
                for _ in 0..<clients {
                    group.addTask {
                        var rng = SystemRandomNumberGenerator()
                        var failed = 0
                        while Date().timeIntervalSince(start) < seconds {
                            let t0 = ContinuousClock.now
                            do {
                                _ = try await client.call("GET", "/v1/users/\(UInt64.random(in: 0..<1000, using: &rng))/recommendations")
                                latencies.add(Double((ContinuousClock.now - t0) / .microseconds(1)) / 1000)
                            } catch {
                                failed += 1
                            }
                        }
                        return failed
                    }
                }
                return await group.reduce(0, +)
            }
            let wall = Date().timeIntervalSince(start)
            let trained = await learnerSteps().steps - before
            print(String(format: "clients %2d: p50 %7.1f ms  p99 %7.1f ms  %6.1f requests/s  %d refused/failed  (training meanwhile: %.1f steps/s)",
                         clients, latencies.percentile(0.5), latencies.percentile(0.99), Double(latencies.count) / wall, refused,
                         Double(trained) / wall))
        }
    }
}
