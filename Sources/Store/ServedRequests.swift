import Alignment
import Events
import Foundation
import LMDB
import Synchronization

/// What the daemon answered, kept for a window so the events that come back can be joined to the model
/// version that served them: each answer's request id, user, version and items, and per version the
/// realised outcomes of its sessions.
///
/// Databases: `served.requests` (request id -> `ServedRequest` and the running totals of its events),
/// `served.by-time` ((served at, request id) -> nothing: retention's order), `served.outcomes` (version ->
/// `SessionOutcomes`; 0 is the popular-items answer), `served.arms` ((canary id, arm: 0 control, 1
/// candidate) -> `SessionOutcomes` of the generated answers each arm of a canary gave while it ran).
///
/// Recording an answer does not write: answers wait in memory and go to the store in one transaction with
/// the next batch of events (`HistoryStore.apply`, before its events are joined, so an event never
/// arrives before the answer it belongs to) or at the next `flush()`. A crash loses the answers of the
/// last flush interval, and while the store cannot be written at most `capacity` wait; the events of
/// answers lost either way count as unmatched. Joining happens in the transaction that
/// stores the event, so each event is counted once, through crashes and redeliveries.
public final class ServedRequests: Sendable {
    let environment: Environment
    let requests: Database, byTime: Database, totals: Database, arms: Database
    /// Answers recorded and not yet written, each with its place in recording order.
    private let pending = Mutex<(next: UInt64, answers: [(number: UInt64, answer: ServedRequest)])>((0, []))

    init(environment: Environment, capacity: Int = 200_000) throws {
        self.environment = environment
        self.capacity = capacity
        requests = try environment.openDatabase("served.requests")
        byTime = try environment.openDatabase("served.by-time")
        totals = try environment.openDatabase("served.outcomes")
        arms = try environment.openDatabase("served.arms")
    }

    /// Answers that may wait for a write at most; beyond, new ones are dropped (counted in `dropped`).
    public let capacity: Int
    private let droppedAnswers = Atomic<Int>(0)
    /// Answers dropped because `capacity` were waiting (the store could not be written for a while).
    public var dropped: Int { droppedAnswers.load(ordering: .relaxed) }

    /// The longest request id kept (LMDB keys are at most 511 bytes; the time-ordered index adds 8).
    static let maxRequestIDBytes = 500

    /// Keeps `answer` for the next write (does not block on the store).
    public func record(_ answer: ServedRequest) {
        let kept = pending.withLock { p -> Bool in
            guard p.answers.count < capacity else { return false }
            p.answers.append((p.next, answer))
            p.next += 1
            return true
        }
        if !kept { droppedAnswers.add(1, ordering: .relaxed) }
    }

    /// Answers recorded and not yet written.
    public var unwritten: Int { pending.withLock { $0.answers.count } }

    /// Writes the recorded answers now.
    public func flush() throws {
        guard unwritten > 0 else { return }
        forget(through: try environment.write { txn in try writePending(txn) })
    }

    /// Writes the answers pending now in `txn` (an id already stored is kept as it is, so writing an
    /// answer twice changes nothing); returns the number of the last one, for `forget(through:)` once
    /// `txn` is committed.
    func writePending(_ txn: WriteTransaction) throws -> UInt64? {
        let answers = pending.withLock { $0.answers }
        var added: [UInt32: SessionOutcomes] = [:]
        var armsAdded: [ServedRequest.Arm: SessionOutcomes] = [:]
        for (_, answer) in answers {
            let id = Array(answer.requestID.utf8)
            precondition((1...Self.maxRequestIDBytes).contains(id.count), "the daemon's request ids are short")
            guard try txn.put(requests, id, Record(answer: answer).bytes, flags: .noOverwrite) else { continue }
            try txn.put(byTime, KeyBuilder.key(answer.servedAtMs) + id, [])
            added[answer.version ?? 0, default: SessionOutcomes(version: answer.version)].requests += 1
            added[answer.version ?? 0]!.itemsShown += UInt64(answer.items.count)
            if let arm = answer.arm {
                armsAdded[arm, default: SessionOutcomes(version: arm.candidate ? answer.version : nil)].requests += 1
                armsAdded[arm]!.itemsShown += UInt64(answer.items.count)
            }
        }
        try merge(added, txn)
        for (arm, d) in armsAdded { try merge(d, into: arms, key: KeyBuilder.key(arm.canary) + [arm.candidate ? 1 : 0], txn) }
        return answers.last?.number
    }

    /// Drops the pending answers up to `number` once they are committed (writers may overlap: each drops
    /// only what it wrote, and answers recorded meanwhile stay).
    func forget(through number: UInt64?) {
        guard let number else { return }
        pending.withLock { $0.answers.removeAll { $0.number <= number } }
    }

    /// What joining a batch's events did.
    public struct Joined: Sendable, Equatable {
        /// Events of an answer this store keeps.
        public var matched = 0
        /// Events whose request id names no answer kept here (not served by this daemon, older than the
        /// window, or lost in a crash before it was written).
        public var unmatched = 0
        /// Events whose request id names an answer to another user (a producer's bug): not counted for
        /// any version.
        public var foreign = 0
        public init(matched: Int = 0, unmatched: Int = 0, foreign: Int = 0) {
            (self.matched, self.unmatched, self.foreign) = (matched, unmatched, foreign)
        }
    }

    /// Joins new interactions to the answers they came from, in `txn` (the one that stores them).
    func join(_ events: [InteractionEvent], _ txn: WriteTransaction) throws -> Joined {
        var joined = Joined()
        var delta: [UInt32: SessionOutcomes] = [:]
        var armTotals: [ServedRequest.Arm: SessionOutcomes] = [:]
        for e in events {
            let id = Array(e.requestID.utf8)
            // An id LMDB cannot take as a key (the decoder lets none through) names no answer, rather than
            // failing the batch.
            guard (1...Self.maxRequestIDBytes).contains(id.count), let stored = try txn.get(requests, id),
                  var record = Record(stored, requestID: e.requestID) else {
                joined.unmatched += 1
                continue
            }
            guard record.answer.user == e.userID else {
                joined.foreign += 1
                continue
            }
            let key = record.answer.version ?? 0
            var d = delta[key] ?? SessionOutcomes(version: record.answer.version)
            let watchMs = max(e.watchTimeMs, 0)
            let before = Double(record.watchMs) / 1000, after = Double(record.watchMs + watchMs) / 1000
            func count(_ d: inout SessionOutcomes) {
                if record.events == 0 { d.sessions += 1 }
                d.events += 1
                d.positives += e.isPositive ? 1 : 0
                d.likes += e.like ? 1 : 0
                d.follows += e.follow ? 1 : 0
                d.watchSeconds += after - before
                d.watchSquares += after * after - before * before
            }
            count(&d)
            delta[key] = d
            if let arm = record.answer.arm {
                var a = armTotals[arm] ?? SessionOutcomes(version: arm.candidate ? record.answer.version : nil)
                count(&a)
                armTotals[arm] = a
            }
            record.events += 1
            record.watchMs += watchMs
            try txn.put(requests, id, record.bytes)
            joined.matched += 1
        }
        try merge(delta, txn)
        for (arm, d) in armTotals { try merge(d, into: arms, key: KeyBuilder.key(arm.canary) + [arm.candidate ? 1 : 0], txn) }
        return joined
    }

    private func merge(_ delta: [UInt32: SessionOutcomes], _ txn: WriteTransaction) throws {
        for (key, d) in delta { try merge(d, into: totals, key: KeyBuilder.key(key), txn) }
    }

    private func merge(_ d: SessionOutcomes, into db: Database, key: [UInt8], _ txn: WriteTransaction) throws {
        var total = try txn.get(db, key).flatMap { SessionOutcomes(version: d.version, $0) } ?? SessionOutcomes(version: d.version)
        total.add(d)
        try txn.put(db, key, total.bytes)
    }

    /// A canary's arms so far: the control's generated answers (of whichever versions served them) and the
    /// candidate's.
    public func arms(canary: UInt32, candidate version: UInt32) throws -> (control: SessionOutcomes, candidate: SessionOutcomes) {
        try environment.read { txn in
            func arm(_ byte: UInt8, _ version: UInt32?) throws -> SessionOutcomes {
                try txn.get(arms, KeyBuilder.key(canary) + [byte]).flatMap { SessionOutcomes(version: version, $0) } ?? SessionOutcomes(version: version)
            }
            return (try arm(0, nil), try arm(1, version))
        }
    }

    /// The popular-items answers' outcomes, then those of the newest `limit` versions that answered, by
    /// version (one record a version stays for good, so readers bound what they show).
    public func outcomes(newest limit: Int = .max) throws -> [SessionOutcomes] {
        try environment.read { txn in
            var found: [SessionOutcomes] = []
            try txn.scan(totals, from: KeyBuilder.key(UInt32(1)), reverse: true) { key, value in
                var k = KeyReader(key)
                if let outcome = SessionOutcomes(version: k.read(UInt32.self), value) { found.append(outcome) }
                return found.count < limit
            }
            let popular = try txn.get(totals, KeyBuilder.key(UInt32(0))).flatMap { SessionOutcomes(version: nil, $0) }
            return (popular.map { [$0] } ?? []) + found.reversed()
        }
    }

    /// The answer kept under `requestID` and the events joined to it so far.
    public func answer(_ requestID: String) throws -> (answer: ServedRequest, events: Int, watchMs: Int64)? {
        try environment.read { txn in try txn.get(requests, Array(requestID.utf8)).flatMap { Record($0, requestID: requestID) } }
            .map { ($0.answer, Int($0.events), $0.watchMs) }
    }

    /// Answers kept.
    public func count() throws -> Int { try environment.read { txn in try txn.count(requests) } }

    /// Retention: forgets up to `limit` answers served before `cutoffMs`, oldest first (their outcomes
    /// stay counted); returns how many (call again while it returns `limit`). Later events of a forgotten
    /// answer count as unmatched.
    @discardableResult
    public func forget(servedBefore cutoffMs: Int64, limit: Int = 10_000) throws -> Int {
        try environment.write { txn in
            var doomed: [[UInt8]] = []
            try txn.scan(byTime, to: KeyBuilder.key(cutoffMs)) { key, _ in
                doomed.append(key)
                return doomed.count < limit
            }
            for key in doomed {
                _ = try txn.delete(byTime, key)
                _ = try txn.delete(requests, Array(key.dropFirst(8)))
            }
            return doomed.count
        }
    }

    /// A stored answer and its running totals. Layout (big-endian): served at, user, version (0: none),
    /// canary id (4 bytes, 0: none), arm (1 byte: 1 the candidate), item count (2 bytes), the items, events
    /// joined (4 bytes), their watch time in ms.
    struct Record {
        var answer: ServedRequest
        var events: UInt32 = 0
        var watchMs: Int64 = 0

        init(answer: ServedRequest) { self.answer = answer }

        init?(_ bytes: [UInt8], requestID: String) {
            guard bytes.count >= 8 + 8 + 4 + 5 + 2 else { return nil }
            var r = KeyReader(bytes)
            let (at, user, version) = (r.read(Int64.self), r.read(UInt64.self), r.read(UInt32.self))
            let (canary, candidate, n) = (r.read(UInt32.self), r.read(UInt8.self), Int(r.read(UInt16.self)))
            guard bytes.count == 27 + 8 * n + 4 + 8 else { return nil }
            let items = (0..<n).map { _ in r.read(UInt64.self) }
            answer = ServedRequest(requestID: requestID, user: user, version: version == 0 ? nil : version, items: items, servedAtMs: at,
                                   arm: canary == 0 ? nil : ServedRequest.Arm(canary: canary, candidate: candidate == 1))
            (events, watchMs) = (r.read(UInt32.self), r.read(Int64.self))
        }

        var bytes: [UInt8] {
            var b = KeyBuilder()
            b.append(answer.servedAtMs)
            b.append(answer.user)
            b.append(answer.version ?? 0)
            b.append(answer.arm?.canary ?? 0)
            b.append(UInt8(answer.arm?.candidate == true ? 1 : 0))
            b.append(UInt16(answer.items.count))
            for item in answer.items { b.append(item) }
            b.append(events)
            b.append(watchMs)
            return b.bytes
        }
    }
}

/// One answer to the feed backend.
public struct ServedRequest: Sendable, Equatable {
    /// The id the answer carried, which the producer echoes in its events' `request_id`.
    public let requestID: String
    public let user: UInt64
    /// The generator version that answered (nil: popular items).
    public let version: UInt32?
    public let items: [UInt64]
    /// Milliseconds since the Unix epoch.
    public let servedAtMs: Int64
    /// The canary arm the user was in when a canary ran (generated answers only).
    public let arm: Arm?

    /// A running canary's arm: its id and whether the candidate answered.
    public struct Arm: Sendable, Hashable {
        public let canary: UInt32
        public let candidate: Bool
        public init(canary: UInt32, candidate: Bool) {
            precondition(canary > 0, "canary ids start at 1")
            (self.canary, self.candidate) = (canary, candidate)
        }
    }

    public init(requestID: String, user: UInt64, version: UInt32?, items: [UInt64], servedAtMs: Int64, arm: Arm? = nil) {
        precondition(items.count <= Int(UInt16.max), "an answer has at most 65,535 items")
        (self.requestID, self.user, self.version, self.items, self.servedAtMs, self.arm) = (requestID, user, version, items, servedAtMs, arm)
    }
}

extension SessionOutcomes {
    /// The stored form: nine big-endian 8-byte fields.
    init?(version: UInt32?, _ bytes: [UInt8]) {
        self.init(version: version)
        guard bytes.count == 9 * 8 else { return nil }
        var r = KeyReader(bytes)
        (requests, itemsShown, sessions, events) = (r.read(UInt64.self), r.read(UInt64.self), r.read(UInt64.self), r.read(UInt64.self))
        (positives, likes, follows) = (r.read(UInt64.self), r.read(UInt64.self), r.read(UInt64.self))
        (watchSeconds, watchSquares) = (Double(bitPattern: r.read(UInt64.self)), Double(bitPattern: r.read(UInt64.self)))
    }

    var bytes: [UInt8] {
        KeyBuilder.key(requests, itemsShown, sessions, events, positives, likes, follows, watchSeconds.bitPattern, watchSquares.bitPattern)
    }
}
