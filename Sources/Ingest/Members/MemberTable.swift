/// The cluster's members and who owns which partition of the interactions topic, as the members topic's
/// records decide it.
///
/// The table keeps each node's newest record. A node is live while its newest record is a heartbeat at
/// most `timeoutMs` older than the newest record read (Kafka timestamps, so every reader judges alike,
/// and a compacted topic, which keeps each node's newest record, leads to the same table). Partitions
/// go to the live serve nodes by rendezvous hashing with bounded load: each partition, in order, takes
/// the highest-ranked node for it that holds fewer than ⌈partitions / nodes⌉. The owners are a function
/// of the live serve nodes and the partition count alone, so all readers agree, and a node that leaves
/// moves little besides its own partitions.
public struct MemberTable: Sendable {
    public struct Member: Sendable, Equatable {
        public let record: MemberRecord
        /// The Kafka timestamp of its newest record (ms).
        public let seenMs: Int64
    }

    public let timeoutMs: Int64
    /// Every node's newest record, live or not.
    public private(set) var newest: [String: Member] = [:]
    /// The newest Kafka timestamp read (ms): the table's clock.
    public private(set) var clockMs: Int64 = 0
    /// The interactions topic's partition count: the largest any member has reported.
    public private(set) var partitionCount: Int32 = 0
    /// Each partition's owner (empty while no serve node is live).
    public private(set) var owners: [Int32: String] = [:]

    public init(timeoutMs: Int64) {
        precondition(timeoutMs > 0, "a member timeout is positive")
        self.timeoutMs = timeoutMs
    }

    /// The nodes live at the table's clock, by name.
    public var live: [String: MemberRecord] {
        newest.filter { $0.value.record.kind == .heartbeat && $0.value.seenMs >= clockMs - timeoutMs }.mapValues(\.record)
    }

    /// Applies a record read with Kafka timestamp `timestampMs`; returns whether the owners changed.
    @discardableResult
    public mutating func apply(_ record: MemberRecord, timestampMs: Int64) -> Bool {
        clockMs = max(clockMs, timestampMs)
        if newest[record.node].map({ $0.seenMs <= timestampMs }) ?? true {
            newest[record.node] = Member(record: record, seenMs: timestampMs)
        }
        partitionCount = max(partitionCount, record.partitions)
        let before = owners
        owners = Self.assign(partitions: partitionCount, to: live.values.filter { $0.role == .serve }.map(\.node))
        return owners != before
    }

    /// The node that answers for `partition`'s users now: its owner once the owner has it ready;
    /// until then a live node that still has it ready (the previous owner, handing it over); else the
    /// owner (which answers with a fallback while it rebuilds). nil while no serve node is live.
    public func answering(_ partition: Int32) -> String? {
        guard let owner = owners[partition] else { return nil }
        let live = self.live
        if live[owner]?.ready.contains(partition) == true { return owner }
        return live.values.filter { $0.ready.contains(partition) }.map(\.node).min() ?? owner
    }

    /// Partitions `node` reads: those it owns, and those it has ready whose owner does not have them ready
    /// yet (it answers for them until the owner has rebuilt them).
    public func reading(_ node: String, ready: Set<Int32>) -> Set<Int32> {
        let live = self.live
        let owned = Set(owners.filter { $0.value == node }.keys)
        let handing = ready.filter { p in owners[p].map { $0 != node && live[$0]?.ready.contains(p) != true } ?? false }
        return owned.union(handing)
    }

    /// Rendezvous hashing with bounded load (see the type's comment).
    static func assign(partitions: Int32, to nodes: [String]) -> [Int32: String] {
        guard !nodes.isEmpty, partitions > 0 else { return [:] }
        let capacity = (Int(partitions) + nodes.count - 1) / nodes.count
        var load: [String: Int] = [:]
        var owners: [Int32: String] = [:]
        for p in 0..<partitions {
            let ranked = nodes.sorted { (rank($0, p), $0) > (rank($1, p), $1) }
            let node = ranked.first { load[$0, default: 0] < capacity }!  // capacity × nodes ≥ partitions
            owners[p] = node
            load[node, default: 0] += 1
        }
        return owners
    }

    /// A node's rank for a partition: FNV-1a (64-bit) of "node/partition" through MurmurHash3's final mix
    /// (so names that differ in one letter rank independently), the same in every process.
    static func rank(_ node: String, _ partition: Int32) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(node)/\(partition)".utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        hash = (hash ^ (hash >> 33)) &* 0xff51_afd7_ed55_8ccd
        hash = (hash ^ (hash >> 33)) &* 0xc4ce_b9fe_1a85_ec53
        return hash ^ (hash >> 33)
    }
}
