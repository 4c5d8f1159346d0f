import ArgumentParser
import BLAS
import Datasets
import Engine
import Foundation
import SemanticIDs
import Store

struct CodebookCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codebook", abstract: "Build semantic-ID codebooks and report on them.",
        subcommands: [CodebookBuild.self, CodebookReportCommand.self])
}

/// `onerec codebook build`: trains the residual quantizer on item vectors, resolves collisions and prints
/// the report; `--compare` builds with plain k-means too and prints both side by side.
struct CodebookBuild: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "build", abstract: "Build a codebook and print its report.")

    @Option(help: "Item vectors: a text file, one item per line: id, then the vector's components (whitespace or comma separated).")
    var vectors: String?
    @Option(help: "Instead of a file: this many synthetic items drawn around 4096 random centres.")
    var synthetic: Int?
    @Option(help: "Instead of a file: behaviour-derived vectors (PPMI of co-occurrence in histories, randomised SVD) of a MovieLens catalog, ml-1m or ml-100k, fetched on first use.")
    var movielens: String?
    @Option(help: "Dimension of the synthetic vectors.") var dimension = 64
    @Option(help: "Code tokens per item.") var levels = 3
    @Option(help: "Codes per level (default: about twice the L-th root of the item count).") var codes: Int?
    @Option(help: "balanced or plain k-means.") var mode = "balanced"
    @Flag(help: "Also build with the other k-means mode and print both reports and build times.") var compare = false
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Option(help: "Save the codebook as the next version in the LMDB store at this directory and make it current.")
    var store: String?

    func run() throws {
        _ = try OpenBLAS.shared()
        // Before the build, so a store a daemon is writing is refused at once, not after minutes of k-means.
        let target = try store.map(openForSaving)
        defer { withExtendedLifetime(target) {} }  // holds the store's writer lock until the command ends
        let items = try loadVectors()
        guard let primary = KMeans.Mode(rawValue: mode) else { throw ValidationError("--mode takes balanced or plain") }
        var modes = [primary]
        if compare { modes.append(primary == .balanced ? .plain : .balanced) }
        var times: [KMeans.Mode: Double] = [:]
        for m in modes {
            var config = ResidualQuantizer.Config()
            config.levels = levels
            config.codesPerLevel = codes
            config.mode = m
            config.seed = seed
            let bar = ProgressBar(label: "\(m.rawValue) k-means", total: levels)
            let start = Date()
            let (quantizer, training) = ResidualQuantizer.train(items, config: config) { bar.update($0 + 1) }
            let book = try Codebook(version: 1, vectors: items, quantizer: quantizer, training: training)
            let seconds = Date().timeIntervalSince(start)
            bar.finish()
            times[m] = seconds
            let report = CodebookReport(codebook: book, training: training, mode: m, seconds: seconds)
            print(report)
            print("")
            if let store, let target, m == primary {
                let codebooks = try target.codebooks()
                let version = try codebooks.nextVersion()
                let versioned = try Codebook(version: version, vectors: items, quantizer: quantizer, training: training)
                try codebooks.save(versioned, report: report)
                print("saved as codebook version \(version) in \(store)\n")
            }
        }
        if let balanced = times[.balanced], let plain = times[.plain] {
            print(String(format: "build time: balanced %.2f s, plain %.2f s, ratio %.2fx", balanced, plain, balanced / plain))
        }
    }

    /// The store at `path` as its one writer. A running daemon keeps the store's codebook itself (it
    /// builds the first once enough items with embeddings have arrived and codes later items as they
    /// come), and a codebook written beside it would not match the model it trains, so a store in use is
    /// refused, saying by whom.
    private func openForSaving(_ path: String) throws -> OpenStore {
        do {
            return try OpenStore.forWriting(path: path, mapSizeMiB: 64, holder: "onerec codebook build")
        } catch let error as StoreInUse {
            throw CommandError("cannot save the codebook: \(error); stop it first (systemctl stop onerec), or leave the codebook to "
                               + "the running daemon, which builds one once enough items with embeddings have arrived and codes new items as they come")
        }
    }

    private func loadVectors() throws -> ItemVectors {
        if let movielens {
            guard let set = MovieLens(rawValue: movielens) else { throw ValidationError("--movielens takes ml-1m or ml-100k") }
            let log = try MovieLens.load(try set.interactionsFile())
            // Every rating counts as a positive interaction for co-occurrence.
            var config = BehaviourVectors.Config()
            config.dimension = dimension
            config.seed = seed
            let values = BehaviourVectors.compute(histories: log.histories(), items: log.items.count, config: config)
            let (items, rejected) = ItemVectors.validated(ids: (0..<UInt64(log.items.count)).map { $0 }, values: values, dimension: dimension)
            print("\(set.rawValue): \(log.users.count) users, \(log.items.count) items, \(log.events.count) ratings; behaviour-derived vectors of \(dimension) dimensions (\(rejected.count) items without co-occurrence rejected)")
            return items
        }
        if let synthetic {
            return SyntheticVectors.make(count: synthetic, dimension: dimension, seed: seed)
        }
        guard let vectors else { throw ValidationError("give --vectors FILE or --synthetic N") }
        guard let text = try? String(contentsOfFile: vectors, encoding: .utf8) else {
            throw CommandError("cannot read \(vectors)")
        }
        var rows: [(id: UInt64, vector: [Float])] = []
        var dim: Int?
        for (number, line) in text.split(separator: "\n").enumerated() where !line.isEmpty && !line.hasPrefix("#") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," })
            guard let id = UInt64(fields[0]) else { throw CommandError("\(vectors):\(number + 1): the first field must be an item id") }
            let vector = fields.dropFirst().map { Float($0) ?? .nan }
            dim = dim ?? vector.count
            rows.append((id, vector))
        }
        let (items, rejected) = ItemVectors.validated(rows, dimension: dim ?? 0)
        for r in rejected.prefix(20) { FileHandle.standardError.write(Data("rejected item \(r.id): \(r.reason.rawValue)\n".utf8)) }
        if rejected.count > 20 { FileHandle.standardError.write(Data("... and \(rejected.count - 20) more rejected\n".utf8)) }
        return items
    }
}

/// A one-line progress bar on stderr.
final class ProgressBar {
    let label: String
    let total: Int
    let start = Date()

    init(label: String, total: Int) {
        self.label = label
        self.total = total
        update(0)
    }

    func update(_ done: Int) {
        let width = 30
        let filled = total == 0 ? width : width * done / total
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        FileHandle.standardError.write(Data(String(format: "\r%@ [%@] %d/%d  %.1f s", label, bar, done, total, Date().timeIntervalSince(start)).utf8))
    }

    func finish() { FileHandle.standardError.write(Data("\n".utf8)) }
}

/// `onerec codebook report`: the stored build report of a version and the codebook as it is now
/// (items coded since the build included).
struct CodebookReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Report on a stored codebook.")

    @Option(help: "The LMDB store directory.") var store: String
    @Option(help: "Version (default: the current one).") var version: UInt32?

    func run() throws {
        guard FileManager.default.fileExists(atPath: store + "/data.mdb") else {
            throw CommandError("no store at \(store): build a codebook with 'onerec codebook build --store \(store)'")
        }
        let none = CommandError("no codebook\(version.map { " version \($0)" } ?? "") in \(store) yet: a daemon builds one once enough "
                                + "items with embeddings have arrived; or build one with 'onerec codebook build --store' while no daemon runs")
        let codebooks: CodebookStore
        do {
            codebooks = try OpenStore.readOnly(path: store).codebooks()  // safe beside a running daemon
        } catch is StorePartMissing {
            throw none  // its databases do not exist yet
        }
        guard let book = try codebooks.load(version: version) else { throw none }
        let versions = try codebooks.versions()
        print("codebook version \(book.version) of \(versions.map(String.init).joined(separator: ", ")) (current: \(try codebooks.currentVersion().map(String.init) ?? "none"))")
        if let (report, builtAt) = try codebooks.buildReport(version: book.version) {
            print("built \(builtAt):\n\(report)")
        }
        var used = [Set<Int32>](repeating: [], count: book.levels)
        for (_, code) in book.assignments { for l in 0..<book.levels { used[l].insert(code[l]) } }
        print("now: \(book.count) items coded; codes used per level: \(used.map { "\($0.count)/\(book.quantizer.codesPerLevel)" }.joined(separator: ", "))")
    }
}
