import ArgumentParser
import BLAS
import Engine
import Foundation
import Models

/// `onerec bench train`: training steps/s and beam-search latency of the reference model, next to the
/// same model in PyTorch (scripts/bench/torch_reference.py, run with the same OpenBLAS kernels), and the
/// engine's effective GFLOP/s as a share of the sgemm peak measured in the same run.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Training and beam-search speed of the reference model vs PyTorch.")

    @Option(help: "Timed training steps.") var steps = 8
    @Option(help: "Batch size.") var batch = 32
    @Option(help: "Encoder tokens per example.") var encoderLength = 150
    @Option(help: "Decoder tokens per example.") var decoderLength = 30
    @Option(help: "Beam width for the decoding benchmark.") var beam = 16
    @Option(help: "Timed beam-search requests.") var requests = 5
    @Option(help: "The PyTorch reference script; empty to skip the comparison.") var torchScript = "scripts/bench/torch_reference.py"
    @Option(help: "Python with torch installed.") var python = "/usr/bin/python3"

    func run() throws {
        // The best kernels this CPU runs, for both sides; each side spreads work over every core itself
        // (OpenBLAS single-threaded inside), the configuration in which PyTorch is fastest here too.
        let blas = try OpenBLAS.shared(.fromCPU(CoreSelection.cpuFlags()))
        let threads = ProcessInfo.processInfo.activeProcessorCount
        Compute.threads = threads
        let config = Seq2Seq.Config()
        let model = Seq2Seq(config: config, seed: 1)
        let data = BenchData(config: config, batch: batch, encoderLength: encoderLength, decoderLength: decoderLength)
        print("reference model: \(model.parameters.count) parameters; batch \(batch), encoder \(encoderLength), decoder \(decoderLength) tokens; OpenBLAS \(blas.coreName), \(threads) threads")

        let adam = AdamW(parameters: model.parameters.tensors)
        func trainStep() {
            let g = Graph()
            let (total, _) = model.loss(g, data.batch)
            g.backward(total)
            adam.update()
            adam.zeroGradients()
        }
        if steps > 0 { for _ in 0..<2 { trainStep() } }
        let clock = ContinuousClock()
        let trainTime = clock.measure { for _ in 0..<steps { trainStep() } }.seconds / Double(max(steps, 1))
        let tokensPerStep = Double(batch * (encoderLength + decoderLength))
        let flops = data.trainingFlops(config: config)
        let peak = sgemmPeak(blas, threads: threads)

        let weights = model.decodingWeights()
        var beamTimes: [Double] = []
        for i in 0..<(requests + 1) {
            let t = clock.measure {
                _ = model.beamSearch(weights: weights, tokens: data.encoderRow(i), valid: [UInt8](repeating: 1, count: encoderLength), beam: beam, steps: decoderLength, start: 1)
            }.seconds
            if i > 0 { beamTimes.append(t) }
        }
        let beamMs = beamTimes.sorted()[beamTimes.count / 2] * 1000

        print(String(format: "onerec  train %7.1f ms/step %8.0f tokens/s  %6.1f GFLOP/s (%.0f%% of sgemm peak %.0f GFLOP/s)   beam %d x %d: %6.1f ms/request",
                     trainTime * 1000, tokensPerStep / trainTime, flops / trainTime / 1e9, 100 * flops / trainTime / 1e9 / peak, peak,
                     beam, decoderLength, beamMs))
        guard !torchScript.isEmpty else { return }
        let torch = try runTorch(coreType: blas.coreName, threads: threads)
        print(String(format: "pytorch train %7.1f ms/step %8.0f tokens/s  %6.1f GFLOP/s                                    beam %d x %d: %6.1f ms/request",
                     torch.train * 1000, tokensPerStep / torch.train, flops / torch.train / 1e9, beam, decoderLength, torch.beam * 1000))
        print(String(format: "ratio (pytorch time / onerec time): training %.2fx, beam search %.2fx", torch.train / trainTime, torch.beam * 1000 / beamMs))
    }

    /// sgemm GFLOP/s at (4096, 128, 512), this process, these kernels, OpenBLAS's own threading.
    private func sgemmPeak(_ blas: OpenBLAS, threads: Int) -> Double {
        blas.setThreads(threads)
        defer { blas.setThreads(1) }
        let (m, n, k) = (4096, 128, 512)
        let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: k * n)
        var c = [Float](repeating: 0, count: m * n)
        for _ in 0..<3 { blas.sgemm(m: m, n: n, k: k, a: a, b: b, c: &c) }
        let t = ContinuousClock().measure { for _ in 0..<20 { blas.sgemm(m: m, n: n, k: k, a: a, b: b, c: &c) } }.seconds
        return 2.0 * Double(m * n * k) * 20 / t / 1e9
    }

    private func runTorch(coreType: String, threads: Int) throws -> (train: Double, beam: Double) {
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = coreType  // the same kernels as this process
        environment["OPENBLAS_NUM_THREADS"] = "1"
        environment["OMP_NUM_THREADS"] = "\(threads)"
        let (status, text) = try capture(python, [torchScript, "--steps", "\(steps)", "--batch", "\(batch)", "--encoder-length", "\(encoderLength)",
                                                  "--decoder-length", "\(decoderLength)", "--beam", "\(beam)", "--requests", "\(requests)", "--threads", "\(threads)"],
                                         environment: environment)
        guard status == 0, let line = text.split(separator: "\n").last(where: { $0.hasPrefix("result ") }) else {
            throw CommandError("the PyTorch reference failed (is python3-torch installed? scripts/bench-train.sh installs it): \(text)")
        }
        let fields = line.split(separator: " ")
        guard fields.count == 3, let train = Double(fields[1]), let beam = Double(fields[2]) else {
            throw CommandError("unexpected PyTorch output: \(line)")
        }
        return (train, beam)
    }
}

/// Seeded random tokens for the benchmark, and the model's FLOPs per training step.
struct BenchData {
    let batch: Seq2Seq.Batch
    let tokens: [Int32]
    let encoderLength: Int

    init(config: Seq2Seq.Config, batch b: Int, encoderLength te: Int, decoderLength td: Int) {
        var rng = SplitMix64(seed: 42)
        let v = UInt64(config.vocabulary)
        tokens = (0..<(b * te)).map { _ in Int32(rng.next() % v) }
        let targets = (0..<(b * td)).map { _ in Int32(rng.next() % v) }
        let inputs = (0..<b).flatMap { r in [Int32(1)] + targets[(r * td)..<(r * td + td - 1)] }
        batch = Seq2Seq.Batch(batch: b, encoderLength: te, decoderLength: td, encoderTokens: tokens,
                              encoderValid: [UInt8](repeating: 1, count: b * te), decoderInputs: inputs, targets: targets)
        encoderLength = te
    }

    func encoderRow(_ i: Int) -> [Int32] {
        let r = i % batch.batch
        return Array(tokens[(r * encoderLength)..<((r + 1) * encoderLength)])
    }

    /// Matmul FLOPs of forward + backward (3x forward) for one step.
    func trainingFlops(config c: Seq2Seq.Config) -> Double {
        let (b, te, td) = (Double(batch.batch), Double(batch.encoderLength), Double(batch.decoderLength))
        let (d, f, v) = (Double(c.width), Double(c.feedForward), Double(c.vocabulary))
        let encoderLayer = 2 * b * te * (4 * d * d + 2 * d * f) + 2 * 2 * b * te * te * d
        let decoderLayer = 2 * b * td * (4 * d * d) + 2 * 2 * b * td * td * d             // self-attention
            + 2 * (b * td * 2 * d * d + b * te * 2 * d * d) + 2 * 2 * b * td * te * d     // cross-attention
            + 2 * b * td * Double(c.topK) * 2 * d * f + 2 * b * td * d * Double(c.experts) // experts and router
        let head = 2 * b * td * d * v
        return 3 * (Double(c.encoderLayers) * encoderLayer + Double(c.decoderLayers) * decoderLayer + head)
    }
}
