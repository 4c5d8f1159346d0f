import Glibc

/// Why an item could not be given a code.
public struct CodebookError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Every item's semantic ID and the way back: `code(of:)`, `item(at:)`, and the trie of codes in use.
/// Codes are unique: when two items fall on one code, every item but the one nearest its code's
/// reconstruction moves to the nearest free code under the same prefix (re-assignment to the
/// next-nearest free code; the code keeps its length, so every item is always L tokens).
public final class Codebook: @unchecked Sendable {
    // @unchecked: mutated only by `add`, which callers serialise (one writer: the ingest or build task).
    public let version: UInt32
    public let quantizer: ResidualQuantizer
    public private(set) var trie: CodeTrie
    private var codes: [UInt64: [Int32]] = [:]
    private var items: [UInt64: UInt64] = [:]
    /// Items in coding order (see `index(of:)`).
    public private(set) var itemsInOrder: [UInt64] = []
    private var indices: [UInt64: Int32] = [:]
    /// Items that shared their code with another item before resolution, at build time.
    public let collisionsBeforeResolution: Int

    public var levels: Int { quantizer.levels }
    public var count: Int { codes.count }

    /// Builds the codebook of `vectors` from a trained quantizer and its training codes.
    public init(version: UInt32, vectors: ItemVectors, quantizer: ResidualQuantizer, training: ResidualQuantizer.Training) throws {
        self.version = version
        self.quantizer = quantizer
        trie = CodeTrie(levels: quantizer.levels)
        let (n, levels, d) = (vectors.count, quantizer.levels, quantizer.dimension)
        var groups: [UInt64: [Int]] = [:]
        for i in 0..<n { groups[CodeTrie.pack(training.codes[(i * levels)..<((i + 1) * levels)]), default: []].append(i) }
        collisionsBeforeResolution = groups.values.reduce(0) { $0 + ($1.count > 1 ? $1.count : 0) }
        // The item nearest the shared code keeps it; the others are resolved after every kept code is placed.
        var moving: [Int] = []
        for (key, members) in groups.sorted(by: { $0.key < $1.key }) {
            let keeper = members.min { a, b in
                let (ea, eb) = (energy(training.lastResiduals, a, d), energy(training.lastResiduals, b, d))
                return ea != eb ? ea < eb : a < b
            }!
            place(vectors.ids[keeper], key: key, code: Array(training.codes[(keeper * levels)..<((keeper + 1) * levels)]))
            moving += members.filter { $0 != keeper }
        }
        for i in moving.sorted() {
            let code = Array(training.codes[(i * levels)..<((i + 1) * levels)])
            let free = try freeCode(near: code, vector: vectors.row(i))
            place(vectors.ids[i], key: CodeTrie.pack(free), code: free)
        }
        for item in codes.keys.sorted() { enroll(item) }
    }

    /// A codebook restored from storage; `order` is its items' coding order (nil: by item id, as a build
    /// orders them).
    public init(version: UInt32, quantizer: ResidualQuantizer, assignments: [(item: UInt64, code: [Int32])], collisionsBeforeResolution: Int,
                order: [UInt64]? = nil) {
        self.version = version
        self.quantizer = quantizer
        self.collisionsBeforeResolution = collisionsBeforeResolution
        trie = CodeTrie(levels: quantizer.levels)
        for (item, code) in assignments { place(item, key: CodeTrie.pack(code), code: code) }
        let order = order ?? assignments.map(\.item).sorted()
        precondition(order.count == codes.count && Set(order) == Set(codes.keys), "a codebook's order names each of its items once")
        for item in order { enroll(item) }
    }

    public func code(of item: UInt64) -> [Int32]? { codes[item] }
    /// The item's place in coding order, 0-based: the build's items by id, then each later item as it was
    /// added. It never changes, so it can index a table that grows with the catalog (item-ID embeddings).
    public func index(of item: UInt64) -> Int32? { indices[item] }
    public func item(at code: [Int32]) -> UInt64? { items[CodeTrie.pack(code)] }

    /// Every (item, code), by item id.
    public var assignments: [(item: UInt64, code: [Int32])] { codes.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }

    /// Codes an item that arrived after the build: nearest centroids level by level, then the nearest
    /// free code if that one is taken. An item that already has a code keeps it.
    @discardableResult
    public func add(item: UInt64, vector: [Float]) throws -> [Int32] {
        if let existing = codes[item] { return existing }
        guard ItemVectors.problem(vector, dimension: quantizer.dimension) == nil else {
            throw CodebookError("item \(item): \(ItemVectors.problem(vector, dimension: quantizer.dimension)!.rawValue) vector")
        }
        let nearest = quantizer.encode(vector[...])
        let code = items[CodeTrie.pack(nearest)] == nil ? nearest : try freeCode(near: nearest, vector: vector[...])
        place(item, key: CodeTrie.pack(code), code: code)
        enroll(item)
        return code
    }

    private func enroll(_ item: UInt64) {
        indices[item] = Int32(itemsInOrder.count)
        itemsInOrder.append(item)
    }

    private func place(_ item: UInt64, key: UInt64, code: [Int32]) {
        precondition(items[key] == nil, "code \(code) given twice")
        codes[item] = code
        items[key] = item
        trie.insert(code)
    }

    /// The nearest free code to `code`: the last level's codes under the same prefix, nearest first; then,
    /// if that prefix is full, the next-nearest codes one level up, each with its nearest free last code.
    private func freeCode(near code: [Int32], vector: ArraySlice<Float>) throws -> [Int32] {
        let levels = quantizer.levels
        for depth in stride(from: levels - 1, through: 0, by: -1) {
            let before = quantizer.residual(vector, code: code, upTo: depth)
            for alternative in quantizer.ranked(before, level: depth) {
                var candidate = Array(code.prefix(depth)) + [Int32(alternative)]
                // Complete the remaining levels with their nearest free codes.
                if let completed = complete(&candidate, vector: vector) { return completed }
            }
        }
        throw CodebookError("no free code left: \(count) items in \(quantizer.codesPerLevel)^\(levels) codes; rebuild with more codes per level")
    }

    private func complete(_ prefix: inout [Int32], vector: ArraySlice<Float>) -> [Int32]? {
        let levels = quantizer.levels
        if prefix.count == levels { return items[CodeTrie.pack(prefix)] == nil ? prefix : nil }
        let residual = quantizer.residual(vector, code: prefix, upTo: prefix.count)
        for c in quantizer.ranked(residual, level: prefix.count) {
            var next = prefix + [Int32(c)]
            if next.count == levels {
                if items[CodeTrie.pack(next)] == nil { return next }
            } else if let done = complete(&next, vector: vector) {
                return done
            }
        }
        return nil
    }
}

private func energy(_ residuals: [Float], _ i: Int, _ d: Int) -> Float {
    var s: Float = 0
    for t in 0..<d { s += residuals[i * d + t] * residuals[i * d + t] }
    return s
}
