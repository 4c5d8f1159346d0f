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

    /// The item's row, assigning one if it is new and there is room; 0 when the table is full.
    public func row(_ id: UInt64) -> Int32 {
        if let r = index[id] { return r }
        guard ids.count < capacity else { return 0 }
        ids.append(id)
        let r = Int32(ids.count)
        index[id] = r
        return r
    }
}
