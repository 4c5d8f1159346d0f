/// A codebook as one self-contained byte string, for sending it to another process (the models topic of
/// a cluster): the quantizer's centroids and every item's code in coding order, so the receiver numbers
/// items exactly as the sender did.
///
/// Layout, little-endian: "ORCB", format (UInt32 = 1), version, levels, codes per level, dimension,
/// collisions before resolution (UInt32 each), items (UInt64); the centroids (levels × K × d Float32);
/// then per item in coding order its id (UInt64) and its `levels` codes (Int32).
extension Codebook {
    static let magic: [UInt8] = Array("ORCB".utf8)

    /// The encoding described above.
    public func encoded() -> [UInt8] {
        let q = quantizer
        var out: [UInt8] = Self.magic
        out.reserveCapacity(40 + q.centroids.reduce(0) { $0 + $1.count * 4 } + count * (8 + 4 * levels))
        for v in [1, version, UInt32(q.levels), UInt32(q.codesPerLevel), UInt32(q.dimension), UInt32(collisionsBeforeResolution)] as [UInt32] {
            append(v, to: &out)
        }
        append(UInt64(count), to: &out)
        for level in q.centroids { level.withUnsafeBytes { out.append(contentsOf: $0) } }
        for item in itemsInOrder {
            append(item, to: &out)
            for c in code(of: item)! { append(c, to: &out) }
        }
        return out
    }

    /// Reads `encoded()`'s bytes back; throws `CodebookError` naming what is wrong with bytes that are
    /// not such an encoding (truncated, a code out of range, an item or a code given twice).
    public convenience init(encoded bytes: [UInt8]) throws {
        var r = LittleEndianReader(bytes)
        guard Array(try r.bytes(4)) == Self.magic else { throw CodebookError("not an encoded codebook (no ORCB magic)") }
        guard try r.read(UInt32.self) == 1 else { throw CodebookError("encoded codebook of an unknown format") }
        let version = try r.read(UInt32.self)
        let (levels, k, d) = (Int(try r.read(UInt32.self)), Int(try r.read(UInt32.self)), Int(try r.read(UInt32.self)))
        let collisions = Int(try r.read(UInt32.self))
        let n = try r.read(UInt64.self)
        guard (1...16).contains(levels), (2...1 << 16).contains(k), (1...1 << 16).contains(d) else {
            throw CodebookError("encoded codebook \(version) has an impossible shape: \(levels) levels, \(k) codes, dimension \(d)")
        }
        let centroids = try (0..<levels).map { _ in try r.floats(k * d) }
        guard n <= UInt64(r.remaining / (8 + 4 * levels)) else { throw CodebookError("encoded codebook \(version) is truncated") }
        var assignments: [(item: UInt64, code: [Int32])] = []
        var seenItems = Set<UInt64>(), seenCodes = Set<UInt64>()
        for _ in 0..<Int(n) {
            let item = try r.read(UInt64.self)
            let code = try (0..<levels).map { _ in try r.read(Int32.self) }
            guard code.allSatisfy({ (0..<Int32(k)).contains($0) }) else { throw CodebookError("encoded codebook \(version): item \(item) has a code out of range") }
            guard seenItems.insert(item).inserted, seenCodes.insert(CodeTrie.pack(code)).inserted else {
                throw CodebookError("encoded codebook \(version): item \(item) or its code appears twice")
            }
            assignments.append((item, code))
        }
        guard r.remaining == 0 else { throw CodebookError("encoded codebook \(version) has \(r.remaining) bytes after its items") }
        self.init(version: version, quantizer: ResidualQuantizer(dimension: d, codesPerLevel: k, centroids: centroids),
                  assignments: assignments, collisionsBeforeResolution: collisions, order: assignments.map(\.item))
    }
}

private func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
}

/// Reads little-endian numbers off a byte string, throwing at its end.
private struct LittleEndianReader {
    let bytes: [UInt8]
    var at = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var remaining: Int { bytes.count - at }

    mutating func bytes(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n <= remaining else { throw CodebookError("encoded codebook is truncated") }
        defer { at += n }
        return bytes[at..<at + n]
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let slice = try bytes(MemoryLayout<T>.size)
        return T(littleEndian: slice.withUnsafeBytes { $0.loadUnaligned(as: T.self) })
    }

    mutating func floats(_ n: Int) throws -> [Float] {
        let slice = try bytes(n * 4)
        return slice.withUnsafeBytes { raw in (0..<n).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } }
    }
}
