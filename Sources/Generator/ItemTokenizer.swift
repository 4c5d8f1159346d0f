import Models
import SemanticIDs

/// Items as tokens: each item is its L semantic-ID codes, level l's code c being token
/// `first + l * K + c`; three special tokens come first. A history is its items' codes separated by
/// [SEP], newest last; a session is [BOS] + codes for each of its m items.
///
/// With item IDs (for the lazy decoder's item-ID embedding), a history item that has a row ends with
/// its item token `vocabulary + row` instead of [SEP]; items without one keep [SEP] and are known by their
/// codes alone. Item tokens are context only: never generated.
public struct ItemTokenizer: Sendable {
    /// Which items have an item-ID row.
    public enum ItemIDs: Sendable, Equatable {
        /// None: every item is its codes alone.
        case none
        /// Rows 1...n for chosen items (`rows(counts:minimum:)`: those with enough interactions).
        case rows([UInt64: Int32])
        /// Row = the item's place in the codebook's coding order + 1, for the first `capacity` items: a
        /// table that grows with the catalog and never moves an item (the daemon's choice, where the
        /// catalog keeps growing and a trained row must keep its item).
        case codingOrder(capacity: Int)
    }

    public static let pad: Int32 = 0
    public static let bos: Int32 = 1
    public static let sep: Int32 = 2
    static let first: Int32 = 3

    public let codebook: Codebook
    public let itemIDs: ItemIDs
    public var levels: Int { codebook.levels }
    public var codesPerLevel: Int { codebook.quantizer.codesPerLevel }
    /// Tokens the model must know: the specials and L * K codes.
    public var vocabulary: Int { Int(Self.first) + levels * codesPerLevel }
    /// Rows of the item-ID embedding a model needs, the shared row 0 included; 0 without item IDs.
    public var itemVocabulary: Int {
        switch itemIDs {
        case .none: 0
        case let .rows(rows): rows.isEmpty ? 0 : rows.count + 1
        case let .codingOrder(capacity): capacity + 1
        }
    }

    public init(codebook: Codebook, itemIDs: ItemIDs = .none) {
        switch itemIDs {
        case let .rows(rows): precondition(rows.values.allSatisfy { $0 >= 1 && Int($0) <= rows.count }, "item rows are 1...count")
        case let .codingOrder(capacity): precondition(capacity >= 1, "an item-ID table needs a capacity")
        case .none: break
        }
        self.codebook = codebook
        self.itemIDs = itemIDs
    }

    /// The item's row of the item-ID embedding; nil for an item known by its codes alone (row 0).
    public func row(of item: UInt64) -> Int32? {
        switch itemIDs {
        case .none: nil
        case let .rows(rows): rows[item]
        case let .codingOrder(capacity): codebook.index(of: item).flatMap { Int($0) < capacity ? $0 + 1 : nil }
        }
    }

    /// Rows for the items with at least `minimum` interactions in `counts`, in ascending item order.
    public static func rows(counts: [UInt64: Int], minimum: Int) -> [UInt64: Int32] {
        let frequent = counts.filter { $0.value >= minimum }.keys.sorted()
        return Dictionary(uniqueKeysWithValues: frequent.enumerated().map { ($0.element, Int32($0.offset + 1)) })
    }

    public func token(level: Int, code: Int32) -> Int32 { Self.first + Int32(level * codesPerLevel) + code }

    /// The code a token stands for at `level`, or nil if it is not one of that level's tokens.
    public func code(_ token: Int32, level: Int) -> Int32? {
        let c = token - Self.first - Int32(level * codesPerLevel)
        return c >= 0 && c < Int32(codesPerLevel) ? c : nil
    }

    public func tokens(of item: UInt64) -> [Int32] {
        guard let code = codebook.code(of: item) else { preconditionFailure("item \(item) has no code") }
        return code.enumerated().map { token(level: $0.offset, code: $0.element) }
    }

    /// The items of `history` this codebook has codes for, with their gap buckets (if any) kept beside them.
    public func coded(_ history: [UInt64], gaps: [Int32]?) -> (history: [UInt64], gaps: [Int32]?) {
        precondition(gaps.map { $0.count == history.count } ?? true, "one gap bucket per history item")
        let kept = history.indices.filter { codebook.code(of: history[$0]) != nil }
        return (kept.map { history[$0] }, gaps.map { g in kept.map { g[$0] } })
    }

    /// The last `maxItems` items of `history` (oldest first) as context tokens: codes, then the item's
    /// token or [SEP], for each item.
    public func historyTokens(_ history: ArraySlice<UInt64>, maxItems: Int) -> [Int32] {
        history.suffix(maxItems).flatMap { item in tokens(of: item) + [row(of: item).map { Int32(vocabulary) + $0 } ?? Self.sep] }
    }

    /// `historyTokens` and the same newest items' gap buckets (nil without them), as a context takes them.
    public func historyContext(_ history: [UInt64], gaps: [Int32]?, maxItems: Int) -> (tokens: [Int32], gaps: [Int32]?) {
        precondition(gaps.map { $0.count == history.count } ?? true, "one gap bucket per history item")
        return (historyTokens(history[...], maxItems: maxItems), gaps.map { Array($0.suffix(maxItems)) })
    }

    /// Teacher-forcing decoder inputs and targets for a session: inputs [BOS c1 c2 c3 BOS c1 ... c2] (the
    /// last code is only a target: nothing follows it), targets the next token at each position, except
    /// that the [BOS] that starts each item is given, not predicted (-1: no loss).
    public func sessionTokens(_ session: [UInt64]) -> (inputs: [Int32], targets: [Int32]) {
        let sequence = session.flatMap { [Self.bos] + tokens(of: $0) }
        var targets = Array(sequence.dropFirst())
        for (i, t) in targets.enumerated() where t == Self.bos { targets[i] = -1 }
        return (Array(sequence.dropLast()), targets)
    }

    /// Decoder tokens of a session of `items` items in training (see `sessionTokens`).
    public func sessionLength(items: Int) -> Int { items * (levels + 1) - 1 }
}

extension Seq2Seq.Config {
    /// This configuration sized to `tokenizer` (its vocabulary, levels and item-ID rows) for histories of
    /// up to `maxHistory` items.
    public func fitted(to tokenizer: ItemTokenizer, maxHistory: Int) -> Seq2Seq.Config {
        var c = self
        (c.vocabulary, c.levels, c.itemVocabulary, c.contextLength) = (tokenizer.vocabulary, tokenizer.levels, tokenizer.itemVocabulary, maxHistory)
        return c
    }
}
