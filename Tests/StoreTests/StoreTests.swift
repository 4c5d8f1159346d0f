import Events
import Foundation
import LMDB
@testable import Store
import TestSupport
import Testing

@Suite struct HistoryStoreTests {
    @Test func batchesAreStoredOnceWithTheirOffsets() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try HistoryStore(environment: Environment(path: dir.path))
        let first = try store.apply((0..<10).map { sampleInteraction($0, user: UInt64($0 % 2)) }, offsets: ["t": [0: 5, 1: 5]])
        #expect(first.stored == 10 && first.duplicates == 0)
        let again = try store.apply((5..<15).map { sampleInteraction($0, user: UInt64($0 % 2)) }, offsets: ["t": [0: 3, 1: 9]])
        #expect(again.stored == 5 && again.duplicates == 5)
        #expect(try store.offsets(topic: "t", partitions: [0, 1, 2]) == [0: 5, 1: 9])  // offsets never move back
        // User 1's events are 1, 3, ..., 13, in time order; item i % 50, positive (watched 1 of 2 s).
        #expect(try store.history(user: 1) == [1, 3, 5, 7, 9, 11, 13].map {
            HistoryStore.Interacted(itemID: $0, positive: true, timestampMs: 1_767_225_600_000 + Int64($0) * 1000)
        })
        #expect(try store.history(user: 1, limit: 2).map(\.itemID) == [11, 13])
        #expect(try store.counts().interactions == 15)
        var skipped = InteractionEvent(eventID: "skip", userID: 9, itemID: 7, timestampMs: 1_767_225_600_000, requestID: "r", position: 0,
                                       watchTimeMs: 100, durationMs: 2000)
        try store.apply([.interaction(skipped)], offsets: [:])
        skipped.eventID = "like"
        (skipped.like, skipped.timestampMs) = (true, 1_767_225_601_000)
        try store.apply([.interaction(skipped)], offsets: [:])
        #expect(try store.history(user: 9) == [.init(itemID: 7, positive: false, timestampMs: 1_767_225_600_000),
                                               .init(itemID: 7, positive: true, timestampMs: 1_767_225_601_000)])
    }

    /// Ids are recorded in the index's order, not the batch's; still, of two arrivals of one id in a batch
    /// the first is the one kept, and the log keeps arrival order. Ids longer than 16 bytes that share
    /// their first 16 are told apart.
    @Test func theFirstArrivalOfAnIdInABatchIsKept() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try HistoryStore(environment: Environment(path: dir.path))
        let long = "an-event-id-longer-than-16-bytes-"
        let ids = ["z", "b", long + "2", "b", "a", long + "1", "z"]
        let applied = try store.apply(ids.enumerated().map { sampleInteraction($0.offset, user: 4, eventID: $0.element) }, offsets: [:])
        #expect(applied.stored == 5 && applied.duplicates == 2)
        // Items are the arrival positions of the kept events: 0 (z), 1 (b), 2, 4 (a), 5.
        #expect(try store.history(user: 4).map(\.itemID) == [0, 1, 2, 4, 5])
        #expect(try store.log(after: 0, limit: 10).map { $0.event.eventID } == ["z", "b", long + "2", "a", long + "1"])
    }

    /// The log gives back every field of what was stored: interactions (kept in binary) with each flag,
    /// ids of every length the decoder accepts and non-ASCII ones; item events (kept as JSON) whole.
    @Test func theLogGivesBackEveryFieldOfWhatWasStored() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try HistoryStore(environment: Environment(path: dir.path))
        var events: [Event] = []
        for flags in 0..<64 {
            var e = InteractionEvent(eventID: "f\(flags)", userID: (1 << 53) - 1 - UInt64(flags), itemID: UInt64(flags), timestampMs: 1_767_225_600_000 + Int64(flags),
                                     requestID: flags == 1 ? String(repeating: "r", count: 256) : "ré-\(flags)", position: 9_999 - flags,
                                     watchTimeMs: 86_400_000 - Int64(flags), durationMs: 1 + Int64(flags))
            (e.like, e.follow, e.share) = (flags & 1 != 0, flags & 2 != 0, flags & 4 != 0)
            (e.collect, e.dislike, e.skip) = (flags & 8 != 0, flags & 16 != 0, flags & 32 != 0)
            events.append(.interaction(e))
        }
        var item = ItemEvent(eventID: "🎬" + String(repeating: "i", count: 250), itemID: 7, timestampMs: 1_767_225_600_000)
        (item.durationMs, item.authorID, item.tags, item.embedding) = (30_000, 3, ["a", "b"], [0.5, -1.25])
        events.insert(.item(item), at: 10)
        try store.apply(events, offsets: [:])
        let logged = try store.log(after: 0, limit: 100)
        #expect(logged.map(\.sequence) == Array(1...65))
        #expect(logged.map(\.event) == events)
    }

    /// Stores written before interactions were kept in binary hold their JSON; those entries are still
    /// read, and retention still deletes them. An entry that is neither (a damaged store) is skipped.
    @Test func logEntriesOfEarlierStoresAreStillRead() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let environment = try Environment(path: dir.path)
        let store = try HistoryStore(environment: environment)
        let old = (0..<3).map { sampleInteraction($0, user: 1) }
        let log = try environment.openDatabase("history.log")
        try environment.write { txn in
            for (i, event) in old.enumerated() { _ = try txn.put(log, KeyBuilder.key(UInt64(i + 1)), [0] + Array(event.json().utf8)) }
            _ = try txn.put(log, KeyBuilder.key(UInt64(4)), [2, 1, 2, 3])
        }
        #expect(try store.log(after: 0, limit: 10).map(\.event) == old)
        #expect(try store.compact(olderThan: 1_767_225_600_000 + 1500, limit: 10) == 2)  // events 0 and 1
        #expect(try store.log(after: 0, limit: 10).map(\.event) == [old[2]])
    }

    @Test func retentionDeletesOldInteractionsAndKeepsTheCatalog() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try HistoryStore(environment: Environment(path: dir.path))
        let item = Event.item(ItemEvent(eventID: "i1", itemID: 1, timestampMs: 1_767_225_600_000))
        try store.apply([item] + (0..<30).map { sampleInteraction($0, user: UInt64($0 % 3)) }, offsets: [:])
        let cutoff: Int64 = 1_767_225_600_000 + 20 * 1000  // events 0-19 are older
        #expect(try store.compact(olderThan: cutoff, limit: 8) == 8)
        #expect(try store.compact(olderThan: cutoff) == 12)
        #expect(try store.compact(olderThan: cutoff) == 0)
        #expect(try store.counts() == (10, 1))
        #expect(try store.log(after: 0, limit: 100).count == 11)
        #expect(try store.history(user: 0).allSatisfy { $0.itemID >= 20 })  // item i of event i: only 20-29 are left
        // A deleted event's id is forgotten with it; a kept one is still deduplicated.
        #expect(try store.apply([sampleInteraction(3, user: 0), sampleInteraction(25, user: 1)], offsets: [:]) == { var a = HistoryStore.Applied(); a.stored = 1; a.duplicates = 1; return a }())
    }
}
