import Alignment
import Events
import Foundation
@testable import Store
import TestSupport
import Testing

@Suite struct ServedRequestsTests {
    func answer(_ id: String, user: UInt64, version: UInt32?, items: [UInt64] = [1, 2, 3], at: Int64 = 1_767_225_600_000) -> ServedRequest {
        ServedRequest(requestID: id, user: user, version: version, items: items, servedAtMs: at)
    }

    func event(_ id: String, user: UInt64, request: String, watchMs: Int64, like: Bool = false, follow: Bool = false) -> Event {
        var e = InteractionEvent(eventID: id, userID: user, itemID: 1, timestampMs: 1_767_225_601_000, requestID: request, position: 0,
                                 watchTimeMs: watchMs, durationMs: 10_000)
        (e.like, e.follow) = (like, follow)
        return .interaction(e)
    }

    /// An answer recorded just before its events is written in their transaction, first, so they find it;
    /// each event is counted once (a redelivery is a duplicate and counts nothing); events of no answer
    /// and of another user's answer are counted apart and change no version's outcomes.
    @Test func eventsAreJoinedOnceToTheAnswerTheyCameFrom() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try OpenStore.forWriting(path: dir.path, mapSizeMiB: 16, holder: "test")
        let (history, served) = (try store.history(), try store.served())
        served.record(answer("a", user: 7, version: 2))
        served.record(answer("b", user: 8, version: 2, items: [4, 5]))
        served.record(answer("p", user: 9, version: nil))
        let batch = [
            event("e1", user: 7, request: "a", watchMs: 6_000, like: true), event("e2", user: 7, request: "a", watchMs: 2_000, follow: true),
            event("e3", user: 8, request: "b", watchMs: 4_000), event("e4", user: 5, request: "nobody", watchMs: 1_000),
            event("e5", user: 5, request: "a", watchMs: 1_000),
        ]
        let applied = try history.apply(batch, offsets: [:])
        #expect(applied.stored == 5 && served.unwritten == 0)
        #expect(applied.joined == ServedRequests.Joined(matched: 3, unmatched: 1, foreign: 1))
        // Ids LMDB could not take as keys (the decoder lets none through) count as unmatched; the batch is stored.
        let odd = try history.apply([event("e6", user: 7, request: "", watchMs: 1), event("e7", user: 7, request: String(repeating: "r", count: 600), watchMs: 1)],
                                    offsets: [:])
        #expect(odd.stored == 2 && odd.joined == ServedRequests.Joined(unmatched: 2))
        let again = try history.apply(batch, offsets: [:])
        #expect(again.duplicates == 5 && again.joined == ServedRequests.Joined())

        let outcomes = try served.outcomes()
        #expect(outcomes.map(\.version) == [nil, 2])
        let (popular, v2) = (outcomes[0], outcomes[1])
        #expect(popular.requests == 1 && popular.sessions == 0 && popular.itemsShown == 3)
        #expect(v2.requests == 2 && v2.itemsShown == 5 && v2.sessions == 2 && v2.events == 3)
        #expect(v2.likes == 1 && v2.follows == 1 && v2.positives == 2)  // 6 of 10 s watched, 2 s followed; 4 of 10 s is not half
        // Sessions of 8 s and 4 s.
        #expect(v2.watchPerSession == 6 && abs(v2.watchDeviation - 8.0.squareRoot()) < 1e-12)
        #expect(try served.answer("a").map { ($0.answer.items, $0.events, $0.watchMs) } ?? ([], 0, 0) == ([1, 2, 3], 2, 8_000))
    }

    /// Answers written (by `flush`, as the daemon does four times a second) survive a restart, and events
    /// that arrive after it are still joined; `forget(servedBefore:)` ends an answer's window (its events
    /// then count as unmatched) and keeps the outcomes counted so far. Writing an answer twice changes
    /// nothing.
    @Test func answersSurviveARestartUntilTheirWindowEnds() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        do {
            let store = try OpenStore.forWriting(path: dir.path, mapSizeMiB: 16, holder: "test")
            let served = try store.served()
            served.record(answer("old", user: 1, version: 3, at: 1_000))
            served.record(answer("new", user: 2, version: 3, at: 5_000))
            try served.flush()
            served.record(answer("new", user: 2, version: 3, at: 5_000))
            try served.flush()
            #expect(try served.count() == 2 && served.unwritten == 0)
            try store.history().apply([event("x1", user: 1, request: "old", watchMs: 3_000)], offsets: [:])
        }
        let store = try OpenStore.forWriting(path: dir.path, mapSizeMiB: 16, holder: "test")
        let (history, served) = (try store.history(), try store.served())
        #expect(try history.apply([event("x2", user: 2, request: "new", watchMs: 5_000)], offsets: [:]).joined.matched == 1)
        #expect(try served.forget(servedBefore: 2_000) == 1)
        #expect(try served.count() == 1)
        #expect(try history.apply([event("x3", user: 1, request: "old", watchMs: 1_000)], offsets: [:]).joined.unmatched == 1)
        let v3 = try #require(try served.outcomes().first)
        #expect(v3.version == 3 && v3.requests == 2 && v3.sessions == 2 && v3.events == 2 && v3.watchSeconds == 8)

        // Read-only, beside the writer.
        let reader = try OpenStore.readOnly(path: dir.path).served()
        #expect(try reader.outcomes() == served.outcomes())
    }

    /// Readers bound what they show: popular items first, then the newest versions, oldest of them first.
    @Test func theNewestVersionsOutcomesAreRead() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let served = try OpenStore.forWriting(path: dir.path, mapSizeMiB: 16, holder: "test").served()
        for v in [UInt32(3), 1, 5, 2, 4] { served.record(answer("v\(v)", user: 1, version: v)) }
        try served.flush()
        #expect(try served.outcomes(newest: 2).map(\.version) == [4, 5])
        served.record(answer("p", user: 1, version: nil))
        try served.flush()
        #expect(try served.outcomes(newest: 2).map(\.version) == [nil, 4, 5])
        #expect(try served.outcomes().map(\.version) == [nil, 1, 2, 3, 4, 5])
    }

    /// While the store cannot take them, at most `capacity` answers wait; the rest are dropped and counted.
    @Test func waitingAnswersAreBounded() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try OpenStore.forWriting(path: dir.path, mapSizeMiB: 16, holder: "test")
        let served = try ServedRequests(environment: store.environment, capacity: 2)
        for i in 0..<5 { served.record(answer("r\(i)", user: 1, version: 1)) }
        #expect(served.unwritten == 2 && served.dropped == 3)
        try served.flush()
        #expect(try served.count() == 2 && served.unwritten == 0)
    }
}
