/// Member names to pick out of a JSON object, matched without allocating: each name of up to 16 bytes is
/// held as two integers and its length, and a member's name is compared only with the names of its
/// length. Every member of every event is looked up here.
public struct MemberNames: Sendable {
    private struct Packed: Equatable {
        var low: UInt64 = 0, high: UInt64 = 0, count = 0
    }

    /// The names sorted by length, each with its index in the order given; `lengths[n]` is where the
    /// names of n bytes are in it.
    private let sorted: [(name: Packed, index: Int)]
    private let lengths: [Range<Int>]
    /// How many names there are (the length of the result of `JSONValue.members`).
    public let count: Int

    /// `names` as UTF-8; each at most 16 bytes, none twice.
    public init(_ names: [String]) {
        precondition(Set(names).count == names.count, "a member name is listed twice: \(names)")
        let packed = names.map { name in
            let bytes = Array(name.utf8)
            precondition(bytes.count <= 16, "member name \(name) is longer than 16 bytes")
            return bytes.withUnsafeBufferPointer { Self.pack($0) }
        }
        let sorted = packed.enumerated().map { ($0.element, $0.offset) }.sorted { $0.0.count < $1.0.count }
        lengths = (0...16).map { n in
            (sorted.firstIndex { $0.0.count >= n } ?? sorted.count)..<(sorted.firstIndex { $0.0.count > n } ?? sorted.count)
        }
        self.sorted = sorted
        count = names.count
    }

    /// The index of `name` (UTF-8 bytes), nil if it is not one of the names.
    func index(of name: UnsafeBufferPointer<UInt8>) -> Int? {
        guard name.count <= 16 else { return nil }
        let candidates = lengths[name.count]
        guard !candidates.isEmpty else { return nil }
        let key = Self.pack(name)
        for i in candidates where sorted[i].name == key { return sorted[i].index }
        return nil
    }

    /// `name` (at most 16 bytes) as two integers, byte i of it in bits 8i... of `low` (i < 8) or `high`.
    private static func pack(_ name: UnsafeBufferPointer<UInt8>) -> Packed {
        var key = Packed(count: name.count)
        for i in 0..<min(name.count, 8) { key.low |= UInt64(name[i]) << (8 * i) }
        for i in min(name.count, 8)..<name.count { key.high |= UInt64(name[i]) << (8 * (i - 8)) }
        return key
    }
}
