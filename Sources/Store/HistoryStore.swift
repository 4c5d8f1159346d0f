import Events
import Foundation
import LMDB

/// The daemon's history store in LMDB: every accepted interaction (deduplicated by event id), each user's
/// history in time order, the item catalog, and the Kafka offsets the stored events came from, all
/// written in one transaction per batch, so a crash at any instant loses nothing and counts nothing twice.
///
/// Databases: `log` (sequence -> kind byte + the event: an `InteractionRecord`, or an item event's JSON; in
/// arrival order: what the trainer tails; appended, so a batch dirties few pages), `events` (event id -> nothing: seen), `history`
/// ((user, timestamp, sequence) -> item id and a positive flag: each user's interactions in time order,
/// small entries that serving reads without touching the log),
/// `items` (item -> its latest item event JSON), `offsets` ((topic, partition) -> next offset), `counters`.
/// A writer's batch also writes the answers `ServedRequests` holds and joins its new interactions to them.
public final class HistoryStore: Sendable {
    let environment: Environment
    let events: Database, history: Database, items: Database, log: Database, offsets: Database, counters: Database
    /// The answers stored events are joined to (writers only).
    let served: ServedRequests?
    /// The thread async callers write on (see `writing`).
    private let writer = DispatchQueue(label: "onerec.history-store.writer")

    init(environment: Environment, served: ServedRequests? = nil) throws {
        self.environment = environment
        self.served = served
        events = try environment.openDatabase("history.event-ids")
        history = try environment.openDatabase("history.by-user")
        items = try environment.openDatabase("history.items")
        log = try environment.openDatabase("history.log")
        offsets = try environment.openDatabase("history.offsets")
        counters = try environment.openDatabase("history.counters")
    }

    /// Runs `body` (writes: a commit waits for the disk) on the store's writer thread, in call order.
    /// Done on a task's own thread, a commit would hold one of the few threads Swift concurrency has (two
    /// on two cores) for the length of an fsync, and HTTP requests would wait behind it.
    @discardableResult
    public func writing<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            writer.async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// What one batch did.
    public struct Applied: Sendable, Equatable {
        public var stored = 0
        public var duplicates = 0
        /// The stored interactions joined to the answers they came from.
        public var joined = ServedRequests.Joined()
        public init() {}
    }

    /// Stores a batch's events and the offsets it covers in one transaction: events whose id was seen
    /// before are skipped; offsets only move forward.
    @discardableResult
    public func apply(_ batch: [Event], offsets next: [String: [Int32: Int64]]) throws -> Applied {
        var json: [UInt8] = [], ends: [Int] = []
        for event in batch {
            if case .item = event { json += event.json().utf8 }  // interactions are stored without their JSON
            ends.append(json.count)
        }
        return try json.withUnsafeBytes { all in
            try apply(batch.indices.map { i in (batch[i], UnsafeRawBufferPointer(rebasing: all[(i == 0 ? 0 : ends[i - 1])..<ends[i]])) }, offsets: next)
        }
    }

    /// The same, for events that come with their JSON (the validated message as it arrived: a Kafka
    /// message's bytes where librdkafka holds them), which is what the store keeps of an item event, so
    /// ingest need not encode it again; an interaction is kept as an `InteractionRecord` and its JSON is
    /// not read. The bytes need to stay valid only for the call.
    @discardableResult
    public func apply(_ batch: [(event: Event, json: UnsafeRawBufferPointer)], offsets next: [String: [Int32: Int64]]) throws -> Applied {
        let (applied, answered) = try environment.write { txn -> (Applied, UInt64?) in
            var applied = Applied()
            // Answers first, so the events that follow them find them.
            let answered = try served?.writePending(txn)
            var joining: [InteractionEvent] = []
            var sequence = try counter(txn, "sequence")
            // Keys and values are built in reused buffers: no arrays are made per event. Each database is
            // written through one cursor, so a put starts from where the last one landed: the log is
            // appended, and event ids and history entries are put in key order (in arrival order, from
            // several partitions and users at random, nearly every put would descend the tree from the
            // root to a leaf not in cache).
            let fresh = try recordEventIDs(batch, txn)
            var key = KeyBuilder(), value = KeyBuilder()
            var interactions: [(user: UInt64, time: Int64, sequence: UInt64, item: UInt64, positive: Bool)] = []
            try txn.inserting(into: log) { appended in
                for ((event, json), new) in zip(batch, fresh) {
                    guard new else {
                        applied.duplicates += 1
                        continue
                    }
                    sequence += 1
                    key.removeAll()
                    key.append(sequence)
                    switch event {
                    case let .interaction(e):
                        interactions.append((e.userID, e.timestampMs, sequence, e.itemID, e.isPositive))
                        joining.append(e)
                        _ = try key.withUnsafeBytes { k in
                            try appended.put(key: k, reserving: 1 + InteractionRecord.size(of: e), flags: .append) { out in
                                out[0] = Kind.interactionRecord
                                InteractionRecord.write(e, into: UnsafeMutableRawBufferPointer(rebasing: out[1...]))
                            }
                        }
                    case let .item(e):
                        _ = try key.withUnsafeBytes { k in
                            try appended.put(key: k, reserving: 1 + json.count, flags: .append) { out in
                                out[0] = Kind.item
                                UnsafeMutableRawBufferPointer(rebasing: out[1...]).copyMemory(from: json)
                            }
                        }
                        key.removeAll()
                        key.append(e.itemID)
                        _ = try key.withUnsafeBytes { k in try txn.put(items, key: k, value: json) }
                    }
                    applied.stored += 1
                }
            }
            // The order of the keys' bytes: user, then the timestamp's bits, then sequence.
            interactions.sort {
                ($0.user, UInt64(bitPattern: $0.time), $0.sequence) < ($1.user, UInt64(bitPattern: $1.time), $1.sequence)
            }
            try txn.inserting(into: history) { entries in
                for i in interactions {
                    key.removeAll()
                    Self.appendHistoryKey(&key, user: i.user, timestampMs: i.time, sequence: i.sequence)
                    value.removeAll()
                    Self.appendHistoryValue(&value, item: i.item, positive: i.positive)
                    _ = try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try entries.put(key: k, value: v) } }
                }
            }
            try setCounter(txn, "sequence", sequence)
            if let served { applied.joined = try served.join(joining, txn) }
            for (topic, partitions) in next {
                for (partition, offset) in partitions {
                    let key = Array(topic.utf8) + [0] + KeyBuilder.key(partition)
                    let current: Int64 = try txn.get(offsets, key).map { var r = KeyReader($0); return r.read(Int64.self) } ?? -1
                    if offset > current { try txn.put(offsets, key, KeyBuilder.key(offset)) }
                }
            }
            return (applied, answered)
        }
        served?.forget(through: answered)
        return applied
    }

    /// Puts each event's id into the event-id index, in the index's order as far as the ids' first 16 bytes
    /// tell it (ties in arrival order, so of two arrivals of one id the first is the one kept); returns,
    /// in arrival order, whether each id was new.
    private func recordEventIDs(_ batch: [(event: Event, json: UnsafeRawBufferPointer)], _ txn: WriteTransaction) throws -> [Bool] {
        let ids = batch.map(\.event.eventID)
        let order = ids.indices.map { i in
            // The first 16 bytes as two big-endian integers: compared as numbers, they order as bytes do.
            var prefix: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &prefix) { out in
                for (j, b) in ids[i].utf8.prefix(16).enumerated() { out[j < 8 ? 7 - j : 23 - j] = b }
            }
            return (prefix.0, prefix.1, ids[i].utf8.count, i)
        }.sorted { $0 < $1 }
        var fresh = [Bool](repeating: false, count: batch.count)
        try txn.inserting(into: events) { cursor in
            for (_, _, _, i) in order {
                var id = ids[i]
                fresh[i] = try id.withUTF8 { try cursor.put(key: UnsafeRawBufferPointer($0), value: UnsafeRawBufferPointer(start: nil, count: 0), flags: .noOverwrite) }
            }
        }
        return fresh
    }

    /// The next offset to read for each of `partitions` of `topic`, where the store has one.
    public func offsets(topic: String, partitions: [Int32]) throws -> [Int32: Int64] {
        try environment.read { txn in
            var found: [Int32: Int64] = [:]
            for p in partitions {
                if let v = try txn.get(offsets, Array(topic.utf8) + [0] + KeyBuilder.key(p)) { var r = KeyReader(v); found[p] = r.read(Int64.self) }
            }
            return found
        }
    }

    /// One interaction of a user's history: what serving needs of it.
    public struct Interacted: Sendable, Equatable {
        public let itemID: UInt64
        /// `InteractionEvent.isPositive` when it was stored.
        public let positive: Bool
        /// The event's time (milliseconds since the epoch).
        public let timestampMs: Int64
        public init(itemID: UInt64, positive: Bool, timestampMs: Int64) {
            (self.itemID, self.positive, self.timestampMs) = (itemID, positive, timestampMs)
        }
    }

    /// A user's interactions, oldest first (the newest `limit` of them), from the history index alone.
    public func history(user: UInt64, limit: Int = .max) throws -> [Interacted] {
        try environment.read { txn in
            var found: [Interacted] = []
            try txn.scan(history, from: KeyBuilder.key(user), to: KeyBuilder.key(user + 1), reverse: true) { key, value in
                var k = KeyReader(key), r = KeyReader(value)
                _ = k.read(UInt64.self)
                found.append(Interacted(itemID: r.read(UInt64.self), positive: r.read(UInt8.self) & 1 != 0, timestampMs: k.read(Int64.self)))
                return found.count < limit
            }
            return found.reversed()
        }
    }

    /// Every stored interaction from the history index, by user, then time, then arrival, in one read
    /// snapshot: for evaluating models on the store's own traffic (`onerec eval store`).
    public func forEachInteraction(_ body: (_ user: UInt64, _ interacted: Interacted) throws -> Void) throws {
        try environment.read { txn in
            try txn.scan(history) { key, value in
                var k = KeyReader(key), r = KeyReader(value)
                let (user, time) = (k.read(UInt64.self), k.read(Int64.self))
                try body(user, Interacted(itemID: r.read(UInt64.self), positive: r.read(UInt8.self) & 1 != 0, timestampMs: time))
                return true
            }
        }
    }

    /// Events in arrival order after `sequence` (0: from the start), at most `limit`, each with its
    /// sequence number: the trainer's feed.
    public func log(after sequence: UInt64, limit: Int) throws -> [(sequence: UInt64, event: Event)] {
        let decoder = EventDecoder()
        return try environment.read { txn in
            var found: [(UInt64, Event)] = []
            try txn.scan(log, from: KeyBuilder.key(sequence + 1)) { key, value in
                var r = KeyReader(key)
                let s = r.read(UInt64.self)
                if let event = Self.logEvent(value, decoder: decoder) { found.append((s, event)) }
                return found.count < limit
            }
            return found
        }
    }

    /// Retention: deletes up to `limit` interactions older than `cutoffMs` (their history entry, log entry
    /// and event id), oldest arrivals first, stopping at the first newer one; catalog items stay. Returns
    /// how many were deleted (call again while it returns `limit`).
    @discardableResult
    public func compact(olderThan cutoffMs: Int64, limit: Int = 10_000) throws -> Int {
        let decoder = EventDecoder()
        return try environment.write { txn in
            var doomed: [(log: [UInt8], history: [UInt8], eventID: String)] = []
            try txn.scan(log) { key, value in
                guard value[0] != Kind.item else { return true }  // catalog items are kept
                guard case .interaction(let e) = Self.logEvent(value, decoder: decoder) else {
                    preconditionFailure("the store's log holds an interaction it cannot read")
                }
                guard e.timestampMs < cutoffMs else { return false }
                var r = KeyReader(key)
                doomed.append((key, Self.historyKey(user: e.userID, timestampMs: e.timestampMs, sequence: r.read(UInt64.self)), e.eventID))
                return doomed.count < limit
            }
            for d in doomed {
                _ = try txn.delete(log, d.log)
                _ = try txn.delete(history, d.history)
                _ = try txn.delete(events, Array(d.eventID.utf8))
            }
            return doomed.count
        }
    }

    /// Interactions and items stored.
    public func counts() throws -> (interactions: Int, items: Int) {
        try environment.read { txn in (try txn.count(history), try txn.count(items)) }
    }

    /// The first byte of a log entry: what the rest of it is.
    enum Kind {
        /// An interaction's JSON (as stores made before 0.1.0 was released hold them), an item event's JSON, an
        /// `InteractionRecord`.
        static let interaction: UInt8 = 0, item: UInt8 = 1, interactionRecord: UInt8 = 2
    }

    /// The event a log entry holds; nil if it cannot be read (a damaged store).
    private static func logEvent(_ entry: [UInt8], decoder: EventDecoder) -> Event? {
        guard let kind = entry.first else { return nil }
        if kind == Kind.interactionRecord {
            return entry.withUnsafeBytes { InteractionRecord.read(UnsafeRawBufferPointer(rebasing: $0[1...])) }.map(Event.interaction)
        }
        return try? decoder.decode(Array(entry.dropFirst()), now: .distantFuture).get()
    }

    /// The history entry's value: the item id, then a flags byte (bit 0: positive).
    static func appendHistoryValue(_ value: inout KeyBuilder, item: UInt64, positive: Bool) {
        value.append(item)
        value.append(UInt8(positive ? 1 : 0))
    }

    static func appendHistoryKey(_ key: inout KeyBuilder, user: UInt64, timestampMs: Int64, sequence: UInt64) {
        key.append(user)
        key.append(timestampMs)
        key.append(sequence)
    }

    static func historyKey(user: UInt64, timestampMs: Int64, sequence: UInt64) -> [UInt8] {
        var key = KeyBuilder()
        appendHistoryKey(&key, user: user, timestampMs: timestampMs, sequence: sequence)
        return key.bytes
    }

    private func counter(_ txn: Transaction, _ name: String) throws -> UInt64 {
        try txn.get(counters, Array(name.utf8)).map { var r = KeyReader($0); return r.read(UInt64.self) } ?? 0
    }

    private func setCounter(_ txn: WriteTransaction, _ name: String, _ value: UInt64) throws {
        try txn.put(counters, Array(name.utf8), KeyBuilder.key(value))
    }
}
