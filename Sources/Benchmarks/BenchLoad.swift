import ArgumentParser
import Client
import Foundation
import Synchronization

/// `onerec bench load`: how much recommendation traffic the daemon takes while it trains, over loopback.
/// After a warm-up (serving cost grows with users' histories until they reach the model's length), closed-loop clients at doubling concurrency find the saturating rate (the most requests/s any level
/// reached); then an open-loop client sends requests at 80% of that rate, on a fixed schedule whatever
/// the answers, for `--seconds` (1800 for the soak), counting errors and timeouts and sampling the
/// daemon's resident memory.
struct BenchLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "load", abstract: "Saturating request rate, then 80% of it open-loop: errors, p50/p99, memory.")
    @Option(help: "Generator size: tiny, small or base.") var preset = "small"
    @Option(help: "Beam width of serving.") var beam = 16
    @Option(help: "Seconds the daemon ingests and trains after its first model before any measurement, so users' histories reach their full length (serving cost grows with them).")
    var warmup = 120.0
    @Option(help: "Seconds per concurrency level while looking for saturation.") var stepSeconds = 10.0
    @Option(help: "Highest concurrency tried.") var maxConcurrency = 64
    @Option(help: "Seconds at 80% of the saturating rate (1800 for a soak).") var seconds = 60.0
    @Option(help: "A request slower than this counts as a timeout (seconds).") var timeout = 2.0
    @Option(help: "HTTP port for the daemon.") var port = 18791

    func run() async throws {
        let daemon = try BenchDaemon(preset: preset, beam: beam, port: port)
        let firstModel = try await daemon.waitForFirstModel()
        print("daemon: \(preset) generator, beam \(beam), training meanwhile; first version after \(Int(firstModel)) s; \(ProcessInfo.processInfo.activeProcessorCount) cores")
        try await Task.sleep(for: .seconds(warmup))
        let client = daemon.load(timeout: timeout)

        // Saturation: closed-loop clients, doubling, until the rate stops growing by 5%.
        var best = 0.0
        var clients = 1
        while clients <= maxConcurrency {
            let (latencies, failed, wall) = await client.closedLoop(clients: clients, seconds: stepSeconds)
            let rate = Double(latencies.count) / wall
            print(String(format: "clients %3d: %7.1f requests/s  p50 %7.1f ms  p99 %7.1f ms  %d failed", clients, rate,
                         latencies.percentile(0.5), latencies.percentile(0.99), failed))
            let grew = rate > best * 1.05
            best = max(best, rate)
            if !grew && clients >= 4 { break }
            clients *= 2
        }
        print(String(format: "saturating rate: %.1f requests/s", best))

        // 80% of it, open loop; memory every 10 s, a line a minute so a soak shows where memory goes.
        let target = 0.8 * best
        let samples = Mutex<[(anonymous: Double, file: Double)]>(daemon.residentMiB.map { [$0] } ?? [])
        let pid = daemon.process.processIdentifier
        let (sent, latencies, failed) = await client.openLoop(rate: target, seconds: seconds) { elapsed, failures in
            guard let rss = BenchDaemon.residentMiB(pid: pid) else { return }
            let count = samples.withLock { $0.append(rss); return $0.count }
            if count % 6 == 1 {
                print(String(format: "  %4.0f s: RssAnon %5.0f MiB, %d errors or timeouts so far", elapsed, rss.anonymous, failures))
                fflush(nil)
            }
        }
        var memory = samples.withLock { $0 }
        if let rss = daemon.residentMiB { memory.append(rss) }
        print(String(format: "at 80%% (%.1f requests/s) for %.0f s: %d sent, %d errors or timeouts (> %.1f s), p50 %.1f ms, p99 %.1f ms",
                     target, seconds, sent, failed, timeout, latencies.percentile(0.5), latencies.percentile(0.99)))
        if let first = memory.first, let last = memory.last {
            print(String(format: "daemon resident memory, its own (RssAnon): %.0f MiB at the start, %.0f MiB at most, %.0f MiB at the end; mapped files (RssFile, the LMDB store): %.0f -> %.0f MiB",
                         first.anonymous, memory.map(\.anonymous).max()!, last.anonymous, first.file, last.file))
            if memory.count >= 6 {
                let half = memory.count / 2
                let (early, late) = (memory[..<half].map(\.anonymous), memory[half...].map(\.anonymous))
                print(String(format: "its own memory, first half of the run at most %.0f MiB, second half at most %.0f MiB", early.max()!, late.max()!))
            }
        }
    }
}
