import Engine

/// The newest `capacity` examples in a ring; draws mix the freshest ones with the whole buffer.
public struct ReplayBuffer<Element> {
    public let capacity: Int
    private var storage: [Element] = []
    private var next = 0
    /// Examples ever added.
    public private(set) var added = 0

    public init(capacity: Int) {
        precondition(capacity >= 1, "a replay buffer needs room")
        self.capacity = capacity
    }

    public var count: Int { storage.count }

    public mutating func append(_ element: Element) {
        if storage.count < capacity { storage.append(element) } else { storage[next] = element }
        next = (next + 1) % capacity
        added += 1
    }

    /// The i-th newest example (0: the newest).
    public func newest(_ i: Int) -> Element {
        precondition(i < storage.count, "only \(storage.count) examples")
        return storage[(next - 1 - i + capacity) % capacity]
    }

    /// `count` examples: a `freshShare` of them from the newest `window`, the rest from anywhere.
    public func sample(_ count: Int, freshShare: Double, window: Int, rng: inout SplitMix64) -> [Element] {
        precondition(!storage.isEmpty, "sampling an empty replay buffer")
        let fresh = Int(Double(count) * freshShare)
        let w = min(window, storage.count)
        return (0..<count).map { i in
            i < fresh ? newest(Int(rng.next() % UInt64(w))) : storage[Int(rng.next() % UInt64(storage.count))]
        }
    }
}
