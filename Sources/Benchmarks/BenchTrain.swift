import ArgumentParser
import BLAS
import Engine
import Client
import Foundation
import Models

/// `onerec bench train`: training steps/s and beam-search latency of the reference model (either
/// architecture), next to the same model in PyTorch (scripts/bench/torch_reference.py, run with the same
/// OpenBLAS kernels), the engine's effective GFLOP/s as a share of the sgemm peak measured in the same
/// run, and the share of the model's compute that goes into the context (V2's question: 97.66% for V1).
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Training and beam-search speed of the reference model vs PyTorch.")

    @Option(help: "Timed training steps.") var steps = 8
    @Option(help: "Batch size.") var batch = 32
    @Option(help: "Generator architecture: encoder-decoder or lazy.") var architecture = "encoder-decoder"
    @Option(help: "Context tokens per example (4 per history item: 3 codes and a separator).") var encoderLength = 152
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
        guard let arch = Seq2Seq.Architecture(rawValue: architecture) else { throw ValidationError("--architecture takes encoder-decoder or lazy") }
        guard encoderLength % 4 == 0 else { throw ValidationError("--encoder-length must be a multiple of 4 (whole history items)") }
        var config = Seq2Seq.Config.preset("small", architecture: arch)!
        config.contextLength = encoderLength / 4
        let model = Seq2Seq(config: config, seed: 1)
        let data = BenchData(config: config, batch: batch, encoderLength: encoderLength, decoderLength: decoderLength)
        print("reference model (\(arch.rawValue)): \(model.parameters.count) parameters; batch \(batch), context \(encoderLength / 4) items "
              + "(\(encoderLength) tokens), decoder \(decoderLength) tokens; OpenBLAS \(blas.coreName), \(threads) threads")

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
        // The context's share of a forward pass, measured, and of a training step's matmul FLOPs, counted.
        func forward(contextOnly: Bool) -> Double {
            clock.measure {
                for _ in 0..<3 {
                    let g = Graph(training: false)
                    let b = data.batch
                    if contextOnly {
                        _ = model.context(g, tokens: b.encoderTokens, valid: b.encoderValid, batch: b.batch, length: b.encoderLength)
                    } else {
                        _ = model.loss(g, b)
                    }
                }
            }.seconds
        }
        let contextShare = forward(contextOnly: true) / forward(contextOnly: false)
        let flopShare = data.contextFlops(config: config) / flops

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
        print(String(format: "context share: %.1f%% of a training step's matmul FLOPs (counted), %.1f%% of the forward time (measured, the context's keys and values excluded)",
                     100 * flopShare, 100 * contextShare))
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
        let (status, text) = try capture(python, [torchScript, "--architecture", architecture, "--steps", "\(steps)", "--batch", "\(batch)", "--encoder-length", "\(encoderLength)",
                                                  "--decoder-length", "\(decoderLength)", "--beam", "\(beam)", "--requests", "\(requests)", "--threads", "\(threads)"],
                                         environment: environment)
        guard status == 0, let line = text.split(separator: "\n").last(where: { $0.hasPrefix("result ") }) else {
            throw BenchmarkError("the PyTorch reference failed (is python3-torch installed? scripts/bench-train.sh installs it): \(text)")
        }
        let fields = line.split(separator: " ")
        guard fields.count == 3, let train = Double(fields[1]), let beam = Double(fields[2]) else {
            throw BenchmarkError("unexpected PyTorch output: \(line)")
        }
        return (train, beam)
    }
}

/// Seeded random tokens for the benchmark, and the model's FLOPs per training step.
struct BenchData {
    let batch: Seq2Seq.Batch
    let tokens: [Int32]
    let encoderLength: Int

    /// Random tokens: for the encoder-decoder any of the vocabulary; for the lazy decoder items of three
    /// codes (tokens 3...) and a [SEP], as the tokenizer writes a history without item IDs.
    init(config: Seq2Seq.Config, batch b: Int, encoderLength te: Int, decoderLength td: Int) {
        var rng = SplitMix64(seed: 42)
        let v = UInt64(config.vocabulary)
        let lazy = config.architecture == .lazy
        tokens = (0..<(b * te)).map { i in lazy ? (i % 4 == 3 ? 2 : Int32(3 + rng.next() % (v - 3))) : Int32(rng.next() % v) }
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
        let (b, td) = (Double(batch.batch), Double(batch.decoderLength))
        let tc = contextPositions(c)
        let (d, f, v) = (Double(c.width), Double(c.feedForward), Double(c.vocabulary))
        let decoderLayer = 2 * b * td * (4 * d * d) + 2 * 2 * b * td * td * d             // self-attention
            + 2 * b * td * 2 * d * d + 2 * 2 * b * td * tc * d                           // cross-attention: q, out, scores
            + 2 * b * td * Double(c.topK) * 2 * d * f + 2 * b * td * d * Double(c.experts) // experts and router
        let head = 2 * b * td * d * v
        return contextFlops(config: c) + 3 * (Double(c.decoderLayers) * decoderLayer + head)
    }

    /// The part of `trainingFlops` that makes the context: the encoder layers (encoder-decoder) and the
    /// projection of the context to the decoder's keys and values (per layer, or once when shared).
    func contextFlops(config c: Seq2Seq.Config) -> Double {
        let (b, te, tc, d, f) = (Double(batch.batch), Double(batch.encoderLength), contextPositions(c), Double(c.width), Double(c.feedForward))
        let encoderLayer = 2 * b * te * (4 * d * d + 2 * d * f) + 2 * 2 * b * te * te * d
        let projections = c.architecture == .lazy ? 1 : Double(c.decoderLayers)
        return 3 * (Double(c.encoderLayers) * encoderLayer + projections * 2 * b * tc * 2 * d * d)
    }

    /// Context positions the decoder attends to: every encoder token, or one per history item.
    func contextPositions(_ c: Seq2Seq.Config) -> Double {
        Double(c.architecture == .lazy ? batch.encoderLength / (c.levels + 1) : batch.encoderLength)
    }
}
