/// The prefix trie of the codes in use: for any prefix, which next code tokens lead to a real item.
/// Beam search consults it at every step so that every generated code maps to an item.
public struct CodeTrie: Sendable {
    public let levels: Int
    /// Per depth: packed prefix -> the next codes, ascending.
    private var next: [[UInt64: [Int32]]]
    /// Per depth: packed prefix -> items whose code starts with it.
    private var counts: [[UInt64: Int]]

    public init(levels: Int) {
        self.levels = levels
        next = Array(repeating: [:], count: levels)
        counts = Array(repeating: [:], count: levels + 1)
    }

    /// Packs up to four codes (each below 65536) into one key.
    public static func pack(_ codes: some Collection<Int32>) -> UInt64 {
        precondition(codes.count <= 4, "codes longer than 4 levels do not pack")
        var key: UInt64 = 0
        for (l, c) in codes.enumerated() {
            precondition(c >= 0 && c < 65536, "code \(c) does not pack")
            key |= UInt64(c) << (16 * UInt64(l))
        }
        return key
    }

    public mutating func insert(_ code: [Int32]) {
        precondition(code.count == levels, "trie of \(levels) levels given a code of \(code.count)")
        for depth in 0...levels { counts[depth][Self.pack(code.prefix(depth)), default: 0] += 1 }
        for depth in 0..<levels {
            let key = Self.pack(code.prefix(depth))
            var list = next[depth][key, default: []]
            let c = code[depth]
            var lo = 0, hi = list.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if list[mid] < c { lo = mid + 1 } else { hi = mid }
            }
            if lo < list.count && list[lo] == c { continue }
            list.insert(c, at: lo)
            next[depth][key] = list
        }
    }

    /// The codes that may follow `prefix` (empty: the first level's codes in use).
    public func allowed(after prefix: [Int32]) -> [Int32] {
        precondition(prefix.count < levels, "a complete code has no continuation")
        return next[prefix.count][Self.pack(prefix)] ?? []
    }

    /// How many items have a code that starts with `prefix` (0 or 1 for a complete code).
    public func count(under prefix: [Int32]) -> Int { counts[prefix.count][Self.pack(prefix)] ?? 0 }
}
