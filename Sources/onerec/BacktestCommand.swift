import ArgumentParser
import Benchmarks
import Datasets
import Evaluation
import Foundation
import Learning
import OneRecDaemon

/// `onerec backtest`: the daemon tried on a recorded log (see `Backtest`).
struct BacktestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest", abstract: "Replays an interaction log into a fresh daemon and measures its answers on each user's held-out last item.",
        discussion: """
            The log is a file as `eval file` reads it (--interactions), or MovieLens (--dataset). Each user's last item is held out (users \
            with at least three items); the rest is sent in time order to a daemon started in a temporary directory, which learns as it \
            would in production (no simulator, no scheduled alignment). Prints the held-out HR@10 / NDCG@10 of the daemon's answers and of \
            popular items every --measure-every minutes and at the end, and the daemon's own online test-then-train curve; with --compare, \
            then `eval file`'s generator and SASRec on the same split (the test items are the same held-out items). With --item-vectors \
            the items carry content embeddings, and the daemon's default codebook (auto) is built from them; --set \
            ONEREC_TRAINER_CODEBOOK=behaviour|both chooses another source.
            """)
    @Option(help: "The interaction log (CSV or TSV with user, item and timestamp columns, as `eval file` reads).") var interactions: String?
    @Option(help: "Or MovieLens: ml-1m or ml-100k (fetched on first use).") var dataset: String?
    @Option(help: ArgumentHelp("Item content vectors, sent as item embeddings before the log: a CSV or TSV file (a header, then the item id and the vector's values per row), or 'genres' with --dataset (MovieLens' genres and release decade).", valueName: "path|genres"))
    var itemVectors: String?
    @Option(help: "A share of the items whose rows before the log's middle time are dropped, so the second half brings items the first codebook never saw.")
    var newItems = 0.0
    @Option(help: "Events a second sent to the daemon (0: as fast as it takes them).") var rate = 0.0
    @Option(help: "Minutes from the first event to the final measurement.") var minutes = 60.0
    @Option(help: "Minutes between measurements on a sample of held-out users.") var measureEvery = 5.0
    @Option(help: "Held-out users in each intermediate measurement.") var sampleUsers = 500
    @Option(help: "HTTP port for the daemon.") var port = 18_795
    @Option(help: "Daemon settings, KEY=VALUE separated by commas (ONEREC_ environment names, e.g. ONEREC_TRAINER_CODEBOOK=behaviour).") var set: String = ""
    @Option(help: "Write the curves as an SVG image to this file.") var plot: String?
    @Flag(help: "Then run `eval file`'s generator and SASRec (every default) on the same split, and print them beside the daemon.") var compare = false

    func run() async throws {
        var config = Backtest.Config()
        (config.rate, config.minutes, config.measureEvery, config.sampleUsers, config.port) = (rate, minutes, measureEvery, sampleUsers, port)
        guard (0..<1).contains(newItems) else { throw ValidationError("--new-items is a share in [0, 1)") }
        config.newItems = newItems
        for pair in set.split(separator: ",") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].hasPrefix("ONEREC_") else { throw ValidationError("--set takes ONEREC_KEY=VALUE pairs; '\(pair)' is not one") }
            config.environment[String(parts[0])] = String(parts[1])
        }
        guard minutes > 0, measureEvery > 0, sampleUsers > 0, rate >= 0 else { throw ValidationError("--minutes, --measure-every and --sample-users must be positive, --rate not negative") }
        let (log, name) = try load()
        let backtest = Backtest(config: config)
        let content = try itemVectors.map { source -> [String: [Float]] in
            if source == "genres" {
                guard let set = dataset.flatMap(MovieLens.init(rawValue:)) else { throw ValidationError("--item-vectors genres needs --dataset") }
                return try set.content()
            }
            return try ItemContentFile.load(source)
        }
        let report = try await backtest.run(on: log, content: content, say: { print($0) })
        print("\nonline test-then-train (the daemon's own measure; each row a window of event time, HR@10):")
        let online = report.online ?? OnlineAccuracy(windowSeconds: 1)
        for w in online.windows {
            print(String(format: "  %@  tested %5d  served %.4f  popular %.4f", Date(timeIntervalSince1970: w.start).formatted(.iso8601), w.served.tested,
                         w.served.hitRate, w.popular.hitRate))
        }
        print(String(format: "  all windows: tested %d  served %.4f  popular %.4f", online.served.tested, online.served.hitRate, online.popular.hitRate))
        let (lastServed, lastPopular) = online.newest(share: 0.25)
        print(String(format: "  newest windows with a quarter of the tests: tested %d  served %.4f  popular %.4f", lastServed.tested, lastServed.hitRate,
                     lastPopular.hitRate))
        if let beat = report.measurements.first(where: { $0.daemon.hitRate > $0.popular.hitRate }) {
            print(String(format: "first measurement where the daemon beat popular items: %.1f min after the first event", beat.minutes))
        }
        if let c = report.codebook { print("the daemon's codebook: version \(c.version), from \(c.source), \(c.items) items coded") }
        for rebuild in report.rebuilds { print("rebuild: " + rebuild) }
        print("\n\(name): \(report.events) events replayed in \(Int(report.replaySeconds)) s; held-out last items of \(report.heldOut) users, full catalog")
        print(String(format: "daemon (served answers, %.0f min): HR@10 %.4f  NDCG@10 %.4f", report.final.minutes, report.final.daemon.hitRate, report.final.daemon.ndcg))
        print(String(format: "popular items:                   HR@10 %.4f  NDCG@10 %.4f  (daemon / popular: HR@10 %.2fx)", report.final.popular.hitRate,
                     report.final.popular.ndcg, report.final.daemon.hitRate / max(report.final.popular.hitRate, 1e-9)))
        if let plot { try write(plot: plot, report) }
        if compare {
            print("\n`eval file` on the same split (every default):")
            let eval = try ExperimentOptions.parse([]).run(on: log, name: name)
            if let test = eval.test, let g = test.generator, let s = test.sasrec {
                print(String(format: "daemon %.4f / %.4f   eval generator %.4f / %.4f   SASRec %.4f / %.4f   (HR@10 / NDCG@10; daemon / generator: %.3f / %.3f)",
                             report.final.daemon.hitRate, report.final.daemon.ndcg, g.hitRate(10), g.ndcg(10), s.hitRate(10), s.ndcg(10),
                             report.final.daemon.hitRate / max(g.hitRate(10), 1e-9), report.final.daemon.ndcg / max(g.ndcg(10), 1e-9)))
            }
        }
    }

    private func load() throws -> (InteractionLog, String) {
        switch (interactions, dataset) {
        case let (path?, nil): return (try InteractionFile.load(path), path)
        case let (nil, name?):
            guard let set = MovieLens(rawValue: name) else { throw ValidationError("--dataset takes ml-1m or ml-100k") }
            return (try MovieLens.load(try set.interactionsFile()), set.rawValue)
        default: throw ValidationError("give --interactions PATH or --dataset ml-1m|ml-100k")
        }
    }

    private func write(plot path: String, _ report: Backtest.Report) throws {
        let measured = report.measurements + [report.final]
        let heldOut = SVGPlot(title: "held-out HR@10 (served answers)", xLabel: "min", series: [
            .init(name: "daemon", color: "steelblue", points: measured.map { ($0.minutes, $0.daemon.hitRate) }),
            .init(name: "popular", color: "gray", points: measured.map { ($0.minutes, $0.popular.hitRate) }),
        ], fromZero: true)
        let windows = report.online?.windows ?? []
        let start = windows.first?.start ?? 0
        let online = SVGPlot(title: "online test-then-train HR@10", xLabel: "days of log", series: [
            .init(name: "served", color: "steelblue", points: windows.map { (($0.start - start) / 86_400, $0.served.hitRate) }),
            .init(name: "popular", color: "gray", points: windows.map { (($0.start - start) / 86_400, $0.popular.hitRate) }),
        ], fromZero: true)
        let svg = #"<svg xmlns="http://www.w3.org/2000/svg" width="520" height="410">"# + heldOut.svg + #"<g transform="translate(0,210)">"# + online.svg + "</g></svg>"
        guard FileManager.default.createFile(atPath: path, contents: Data(svg.utf8)) else { throw CommandError("cannot write \(path)") }
        print("curves written to \(path)")
    }
}
