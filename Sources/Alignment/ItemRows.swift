/// Embedding rows for arbitrary item ids: each new id takes the next free row (1...capacity) in the order
/// items arrive, so a daemon whose log replays in the same order assigns the same rows after a restart.
/// Items beyond the capacity share row 0, the unknown-item vector. Used by one thread (the trainer's).
public final class ItemRows {
    public let capacity: Int
    public private(set) var ids: [UInt64] = []
    private var index: [UInt64: Int32] = [:]

    public init(capacity: Int) {
        precondition(capacity >= 1, "item rows need a capacity")
        self.capacity = capacity
    }

    /// The item's row; 0 (unknown) if it has none.
    public func row(_ id: UInt64) -> Int32 { index[id] ?? 0 }

    /// The item's row, assigning the next one if it is new and there is room; 0 when the table is full.
    /// Only catalog arrivals assign rows, so the order (and a checkpoint's meaning) survives a restart.
    @discardableResult
    public func assign(_ id: UInt64) -> Int32 {
        if let r = index[id] { return r }
        guard ids.count < capacity else { return 0 }
        ids.append(id)
        let r = Int32(ids.count)
        index[id] = r
        return r
    }
}
