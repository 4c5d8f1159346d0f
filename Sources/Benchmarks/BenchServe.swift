import ArgumentParser
import Client
import Foundation

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
        let daemon = try BenchDaemon(preset: preset, beam: beam, port: port)
        let client = daemon.load(timeout: 30)
        let firstModel = try await daemon.waitForFirstModel()
        print("daemon: \(preset) generator, beam \(beam), trained and training; first version after \(Int(firstModel)) s; \(ProcessInfo.processInfo.activeProcessorCount) cores")
        for clients in concurrency.split(separator: ",").compactMap({ Int($0) }) {
            let before = await daemon.learner().steps
            let (latencies, refused, wall) = await client.closedLoop(clients: clients, seconds: seconds)
            let trained = await daemon.learner().steps - before
            print(String(format: "clients %2d: p50 %7.1f ms  p99 %7.1f ms  %6.1f requests/s  %d refused/failed  (training meanwhile: %.1f steps/s)",
                         clients, latencies.percentile(0.5), latencies.percentile(0.99), Double(latencies.count) / wall, refused,
                         Double(trained) / wall))
        }
    }
}
