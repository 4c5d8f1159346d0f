/// Interactions read from a data set: users and items interned to dense indices, events kept in file
/// order with their rating and timestamp.
public struct InteractionLog: Sendable {
    public struct Event: Sendable, Equatable {
        public let user: Int32
        public let item: Int32
        public let rating: Float
        /// Seconds (time gaps read them so; any unit orders the events).
        public let timestamp: Int64
    }

    public private(set) var users: [String] = []
    public private(set) var items: [String] = []
    public private(set) var events: [Event] = []
    private var userIndex: [String: Int32] = [:]
    private var itemIndex: [String: Int32] = [:]

    public init() {}

    public mutating func append(user: String, item: String, rating: Float, timestamp: Int64) {
        let u = userIndex[user] ?? { let i = Int32(users.count); users.append(user); userIndex[user] = i; return i }()
        let v = itemIndex[item] ?? { let i = Int32(items.count); items.append(item); itemIndex[item] = i; return i }()
        events.append(Event(user: u, item: v, rating: rating, timestamp: timestamp))
    }

    /// Each user's items in time order; events with the same timestamp keep their file order (about half
    /// of MovieLens-1M's rows share a second with another row of the same user).
    public func histories(where keep: (Event) -> Bool = { _ in true }) -> [[Int32]] {
        timedHistories(where: keep).map(\.items)
    }

    /// `histories` with each item's timestamp.
    public func timedHistories(where keep: (Event) -> Bool = { _ in true }) -> [(items: [Int32], timestamps: [Int64])] {
        var perUser = [[(Int64, Int, Int32)]](repeating: [], count: users.count)
        for (order, e) in events.enumerated() where keep(e) { perUser[Int(e.user)].append((e.timestamp, order, e.item)) }
        return perUser.map { list in
            let sorted = list.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
            return (sorted.map(\.2), sorted.map(\.0))
        }
    }
}
