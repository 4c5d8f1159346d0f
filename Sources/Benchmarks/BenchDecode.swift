import ArgumentParser
import BLAS
import Dispatch
import Engine
import Client
import Foundation
import Generator
import Models
import SemanticIDs

/// `onerec bench decode`: latency of trie-constrained session generation (m items, beam B) with the
/// reference-sized generator (either architecture) over a synthetic catalog, one request at a time and
/// several at once.
struct BenchDecode: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "decode", abstract: "Session beam-search latency p50/p99.")

    @Option(help: "Generator size: tiny, small or base.") var preset = "small"
    @Option(help: "Generator architecture: encoder-decoder or lazy.") var architecture = "encoder-decoder"
    @Option(help: "Catalog size.") var items = 3706
    @Option(help: "History items per request.") var history = 50
    @Option(help: "Items per generated session.") var sessionItems = 5
    @Option(help: "Beam widths, comma separated.") var beams = "16,32,128"
    @Option(help: "Concurrent clients, comma separated.") var concurrency = "1,8"
    @Option(help: "Requests per client.") var requests = 20

    func run() throws {
        _ = try OpenBLAS.shared(.fromCPU(CoreSelection.cpuFlags()))
        guard let arch = Seq2Seq.Architecture(rawValue: architecture) else { throw ValidationError("--architecture takes encoder-decoder or lazy") }
        guard let config = Seq2Seq.Config.preset(preset, architecture: arch) else { throw ValidationError("--preset takes tiny, small or base") }
        let catalog = SyntheticVectors.make(count: items, dimension: 32, seed: 1)
        let (quantizer, training) = ResidualQuantizer.train(catalog, config: ResidualQuantizer.Config())
        let book = try Codebook(version: 1, vectors: catalog, quantizer: quantizer, training: training)
        let tokenizer = ItemTokenizer(codebook: book)
        let model = Seq2Seq(config: config.fitted(to: tokenizer, maxHistory: history), seed: 1)
        let decoder = SessionDecoder(model: model, weights: model.decodingWeights(), tokenizer: tokenizer)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        print("generator \(preset) \(arch.rawValue) (\(model.parameters.count) parameters), \(items) items x \(book.levels) codes of \(book.quantizer.codesPerLevel), history \(history) items, sessions of \(sessionItems), \(cores) cores")
        for beam in beams.split(separator: ",").compactMap({ Int($0) }) {
            for clients in concurrency.split(separator: ",").compactMap({ Int($0) }) {
                // One client uses every core inside a request; several clients take one core's worth each.
                Compute.threads = clients == 1 ? cores : 1
                let latencies = Latencies()
                let start = Date()
                // One thread per client, all at once (a dispatch queue would run only as many as there are
                // cores). As a server would, requests decode on at most one worker per core; the latency
                // includes the wait for a worker. (Unbounded, OpenBLAS's internal locks make 8 threads on 2
                // cores several times slower than 2.)
                let workers = DispatchSemaphore(value: cores)
                let finished = DispatchGroup()
                for client in 0..<clients {
                    finished.enter()
                    let (history, items, sessionItems, requests) = (history, items, sessionItems, requests)
                    Thread {
                        var rng = SplitMix64(seed: UInt64(client))
                        for _ in 0..<requests {
                            let h = (0..<history).map { _ in UInt64(rng.next() % UInt64(items)) }
                            let t0 = DispatchTime.now().uptimeNanoseconds
                            workers.wait()
                            _ = decoder.generate(history: tokenizer.historyTokens(h[...], maxItems: history), items: sessionItems, beam: beam, excluded: Set(h))
                            workers.signal()
                            latencies.add(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                        }
                        finished.leave()
                    }.start()
                }
                finished.wait()
                let wall = Date().timeIntervalSince(start)
                print(String(format: "beam %4d  clients %2d:  p50 %7.1f ms  p99 %7.1f ms  %6.1f requests/s", beam, clients,
                             latencies.percentile(0.5), latencies.percentile(0.99), Double(latencies.count) / wall))
            }
        }
    }
}
