import ArgumentParser
import BLAS
import Client
import Foundation

/// `onerec bench blas`: sgemm GFLOP/s with the kernels onerec chooses, next to what OpenBLAS reaches
/// with its own CPU detection, in one run. Each configuration runs in a child process, because
/// OpenBLAS fixes its kernels when it is loaded.
struct BenchBLAS: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "blas", abstract: "sgemm GFLOP/s: onerec's kernel choice vs the library's.")

    @Option(help: "Rows of A and C.") var m = 4096
    @Option(help: "Columns of B and C.") var n = 128
    @Option(help: "Columns of A, rows of B.") var k = 512
    @Option(help: "BLAS threads (default: all cores).") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Timed rounds; the median is reported.") var rounds = 7
    @Option(help: .hidden) var measure: String?

    func run() throws {
        if let measure {
            try measureHere(core: measure)
            return
        }
        print("sgemm m=\(m) n=\(n) k=\(k), \(threads) threads, median of \(rounds) rounds, each in its own process")
        func row(_ label: String, _ mode: String) throws -> Double {
            let (core, source, gflops) = try runChild(mode)
            let cells = [label.padding(toLength: 24, withPad: " ", startingAt: 0), core.padding(toLength: 12, withPad: " ", startingAt: 0),
                         source.padding(toLength: 12, withPad: " ", startingAt: 0), String(format: "%7.1f GFLOP/s", gflops)]
            print("  " + cells.joined(separator: " "))
            return gflops
        }
        let environment = ProcessInfo.processInfo.environment
        if environment["ONEREC_BLAS_CORE"] != nil || environment["OPENBLAS_CORETYPE"] != nil {
            _ = try row("as set in environment", "auto")
        }
        let onerec = try row("onerec (CPU flags)", "cpu")
        let library = try row("library auto-detect", "library")
        print("  ratio onerec / library auto-detect: \(String(format: "%.2f", onerec / library))x")
    }

    /// Runs this command again with `--measure MODE` and an environment shaped for MODE.
    private func runChild(_ mode: String) throws -> (core: String, source: String, gflops: Double) {
        var environment = ProcessInfo.processInfo.environment
        if mode != "auto" {
            environment["OPENBLAS_CORETYPE"] = nil
            environment["OPENBLAS_L2_SIZE"] = nil
            environment["ONEREC_BLAS_CORE"] = nil
        }
        let (status, text) = try capture(
            URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
            ["bench", "blas", "--measure", mode, "--m", "\(m)", "--n", "\(n)", "--k", "\(k)", "--threads", "\(threads)", "--rounds", "\(rounds)"],
            environment: environment)
        let fields = text.split(separator: "\t")
        guard status == 0, fields.count == 3, let gflops = Double(fields[2].trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw BenchmarkError("benchmark child (\(mode)) failed: \(text)")
        }
        return (String(fields[0]), String(fields[1]), gflops)
    }

    /// Loads OpenBLAS as MODE says and prints "core<TAB>GFLOP/s".
    private func measureHere(core mode: String) throws {
        let selection: CoreSelection = switch mode {
        case "auto": .automatic(environment: ProcessInfoLite.environment, cpuFlags: CoreSelection.cpuFlags())
        case "cpu": .fromCPU(CoreSelection.cpuFlags())
        case "library": CoreSelection(coreType: nil, source: .library)
        default: throw ValidationError("--measure takes auto, cpu or library")
        }
        let blas = try OpenBLAS.shared(selection)
        blas.setThreads(threads)
        let a = [Float](repeating: 0.5, count: m * k)
        let b = [Float](repeating: 0.25, count: k * n)
        var c = [Float](repeating: 0, count: m * n)
        let flops = 2.0 * Double(m) * Double(n) * Double(k)
        let clock = ContinuousClock()
        for _ in 0..<3 { blas.sgemm(m: m, n: n, k: k, a: a, b: b, c: &c) }
        // Each round repeats sgemm for about 0.25 s.
        let perCall = clock.measure { blas.sgemm(m: m, n: n, k: k, a: a, b: b, c: &c) }
        let calls = max(1, Int(0.25 / max(perCall.seconds, 1e-6)))
        var rates: [Double] = []
        for _ in 0..<rounds {
            let elapsed = clock.measure { for _ in 0..<calls { blas.sgemm(m: m, n: n, k: k, a: a, b: b, c: &c) } }
            rates.append(flops * Double(calls) / elapsed.seconds / 1e9)
        }
        precondition(c[0] == Float(k) * 0.125, "sgemm computed \(c[0]), expected \(Float(k) * 0.125)")
        print("\(blas.coreName)\t\(blas.selection.source.rawValue)\t\(rates.sorted()[rates.count / 2])")
    }
}
