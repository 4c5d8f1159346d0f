import Foundation
import LMDB
import SemanticIDs

/// Codebooks in the LMDB store, by version: the centroids, every item's code and the way back. A model
/// records the codebook version it was trained with, so it is always served with the codes it learned.
/// Building again never overwrites a version; it writes the next one and (by default) makes it current.
///
/// Databases: `codebooks` ("current" -> version; version -> JSON header), `codebook.centroids`
/// ((version, level) -> floats), `codebook.item-code` ((version, item) -> codes),
/// `codebook.code-item` ((version, packed code) -> item). Integers are big-endian, floats little-endian.
/// An item's codes are followed by its place in coding order (`Codebook.index(of:)`); records written
/// before that existed have none, and such items take the first places, by id, when loaded.
public struct CodebookStore: Sendable {
    struct Header: Codable {
        var levels: Int
        var codesPerLevel: Int
        var dimension: Int
        var items: Int
        var collisionsBeforeResolution: Int
        var createdAt: Double
        /// The build's report, as printed then.
        var report: String?
        /// Where its item vectors came from (`content`, `behaviour`, `both`; nil: a file or before this was kept).
        var source: String?
    }

    let env: Environment
    let meta: Database, centroids: Database, itemCode: Database, codeItem: Database
    static let currentKey = Array("current".utf8)

    init(environment: Environment) throws {
        env = environment
        meta = try env.openDatabase("codebooks")
        centroids = try env.openDatabase("codebook.centroids")
        itemCode = try env.openDatabase("codebook.item-code")
        codeItem = try env.openDatabase("codebook.code-item")
    }

    /// Stored versions, ascending.
    public func versions() throws -> [UInt32] {
        try env.read { txn in
            var found: [UInt32] = []
            try txn.scan(meta) { key, _ in
                if key.count == 4 { var r = KeyReader(key); found.append(r.read(UInt32.self)) }
                return true
            }
            return found
        }
    }

    /// The version a new build should take.
    public func nextVersion() throws -> UInt32 { (try versions().last ?? 0) + 1 }

    /// The current version, if any.
    public func currentVersion() throws -> UInt32? {
        try env.read { txn in
            try txn.get(meta, Self.currentKey).map { var r = KeyReader($0); return r.read(UInt32.self) }
        }
    }

    /// Writes a whole codebook in one transaction, with its build report; refuses to overwrite an
    /// existing version.
    public func save(_ book: Codebook, report: CodebookReport? = nil, source: String? = nil, makeCurrent: Bool = true) throws {
        let q = book.quantizer
        let header = Header(levels: q.levels, codesPerLevel: q.codesPerLevel, dimension: q.dimension, items: book.count,
                            collisionsBeforeResolution: book.collisionsBeforeResolution, createdAt: Date().timeIntervalSince1970,
                            report: report?.description, source: source)
        let headerBytes = Array(try JSONEncoder().encode(header))
        try env.write { txn in
            let v = KeyBuilder.key(book.version)
            guard try txn.put(meta, v, headerBytes, flags: .noOverwrite) else {
                throw CodebookError("codebook version \(book.version) already exists")
            }
            for (level, c) in q.centroids.enumerated() {
                try txn.put(centroids, KeyBuilder.key(book.version) + KeyBuilder.key(UInt32(level)), c.withUnsafeBytes { Array($0) })
            }
            for item in book.itemsInOrder { try write(txn, book, item: item) }
            if makeCurrent { try txn.put(meta, Self.currentKey, v) }
        }
    }

    /// Makes a stored version current (a rebuilt codebook whose generator has taken over).
    public func makeCurrent(version: UInt32) throws {
        try env.write { txn in
            guard try txn.get(meta, KeyBuilder.key(version)) != nil else { throw CodebookError("codebook version \(version) is not stored") }
            try txn.put(meta, Self.currentKey, KeyBuilder.key(version))
        }
    }

    /// Writes a codebook received from another node (the models topic): a version not stored yet whole,
    /// made current if it is the newest; one stored already gains the items it lacks (a version only ever
    /// grows, by items coded online, so the two agree on every item both have).
    public func merge(_ book: Codebook) throws {
        if try !versions().contains(book.version) {
            try save(book, makeCurrent: try book.version > (currentVersion() ?? 0))
            return
        }
        try env.write { txn in
            for item in book.itemsInOrder where try txn.get(itemCode, KeyBuilder.key(book.version) + KeyBuilder.key(item)) == nil {
                try write(txn, book, item: item)
            }
        }
    }

    /// The report printed when `version` was built, and when.
    public func buildReport(version: UInt32) throws -> (report: String, builtAt: Date)? {
        try env.read { txn in
            guard let bytes = try txn.get(meta, KeyBuilder.key(version)) else { return nil }
            let header = try JSONDecoder().decode(Header.self, from: Data(bytes))
            return (header.report ?? "(no report stored)", Date(timeIntervalSince1970: header.createdAt))
        }
    }

    /// Where `version`'s item vectors came from, as its build said (nil: not said).
    public func source(version: UInt32) throws -> String? {
        try env.read { txn in
            guard let bytes = try txn.get(meta, KeyBuilder.key(version)) else { return nil }
            return try JSONDecoder().decode(Header.self, from: Data(bytes)).source
        }
    }

    /// Records one item coded after the build (`Codebook.add`): its code and its place in coding order.
    public func saveAssignment(_ book: Codebook, item: UInt64) throws {
        try env.write { txn in try write(txn, book, item: item) }
    }

    /// Loads a version (default: the current one); nil if there is none.
    public func load(version: UInt32? = nil) throws -> Codebook? {
        guard let version = try version ?? currentVersion() else { return nil }
        return try env.read { txn -> Codebook? in
            guard let headerBytes = try txn.get(meta, KeyBuilder.key(version)) else { return nil }
            let header = try JSONDecoder().decode(Header.self, from: Data(headerBytes))
            var levels: [[Float]] = []
            for level in 0..<header.levels {
                guard let bytes = try txn.get(centroids, KeyBuilder.key(version) + KeyBuilder.key(UInt32(level))),
                      bytes.count == header.codesPerLevel * header.dimension * 4 else {
                    throw CodebookError("codebook \(version): centroids of level \(level + 1) are missing or damaged")
                }
                levels.append(bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) })
            }
            var assignments: [(item: UInt64, code: [Int32])] = []
            var unplaced: [UInt64] = [], placed: [(item: UInt64, index: Int32)] = []
            let prefix = KeyBuilder.key(version)
            try txn.scan(itemCode, from: prefix, to: KeyBuilder.key(version + 1)) { key, value in
                var k = KeyReader(key)
                _ = k.read(UInt32.self)
                let item = k.read(UInt64.self)
                guard value.count == header.levels * 4 || value.count == (header.levels + 1) * 4 else {
                    throw CodebookError("codebook \(version): the code of item \(item) is damaged (\(value.count) bytes)")
                }
                var r = KeyReader(value)
                assignments.append((item, (0..<header.levels).map { _ in r.read(Int32.self) }))
                if value.count > header.levels * 4 { placed.append((item, r.read(Int32.self))) } else { unplaced.append(item) }
                return true
            }
            let order = unplaced + placed.sorted { $0.index < $1.index }.map(\.item)
            let quantizer = ResidualQuantizer(dimension: header.dimension, codesPerLevel: header.codesPerLevel, centroids: levels)
            return Codebook(version: version, quantizer: quantizer, assignments: assignments,
                            collisionsBeforeResolution: header.collisionsBeforeResolution, order: order)
        }
    }

    /// The item at `code` in `version`, read straight from the store.
    public func item(version: UInt32, code: [Int32]) throws -> UInt64? {
        try env.read { txn in
            try txn.get(codeItem, KeyBuilder.key(version) + KeyBuilder.key(CodeTrie.pack(code))).map { var r = KeyReader($0); return r.read(UInt64.self) }
        }
    }

    /// The code of `item` in `version` (`levels` tokens), read straight from the store.
    public func code(version: UInt32, item: UInt64, levels: Int) throws -> [Int32]? {
        try env.read { txn in
            try txn.get(itemCode, KeyBuilder.key(version) + KeyBuilder.key(item)).map { bytes in
                var r = KeyReader(bytes)
                return (0..<min(levels, bytes.count / 4)).map { _ in r.read(Int32.self) }
            }
        }
    }

    private func write(_ txn: WriteTransaction, _ book: Codebook, item: UInt64) throws {
        guard let code = book.code(of: item), let index = book.index(of: item) else { preconditionFailure("item \(item) is not in codebook \(book.version)") }
        var value = KeyBuilder()
        for c in code { value.append(c) }
        value.append(index)
        try txn.put(itemCode, KeyBuilder.key(book.version) + KeyBuilder.key(item), value.bytes)
        try txn.put(codeItem, KeyBuilder.key(book.version) + KeyBuilder.key(CodeTrie.pack(code)), KeyBuilder.key(item))
    }
}
