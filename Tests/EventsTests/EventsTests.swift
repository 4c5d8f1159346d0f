@testable import Events
import Foundation
import Testing

@Suite struct EventsTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static var interaction: InteractionEvent {
        var e = InteractionEvent(eventID: "e1", userID: 42, itemID: 7, timestampMs: 1_799_999_000_000, requestID: "r1",
                                 position: 2, watchTimeMs: 12_000, durationMs: 30_000)
        e.like = true
        return e
    }

    func decode(_ json: String) -> Result<Event, EventRejection> {
        EventDecoder(embeddingDimension: 3).decode(Array(json.utf8), now: Self.now)
    }

    @Test func eventsRoundTripThroughJSON() throws {
        var item = ItemEvent(eventID: "i1", itemID: 7, timestampMs: 1_799_000_000_000)
        item.durationMs = 30_000
        item.authorID = 3
        item.tags = ["cats", "a \"quoted\" tag"]
        item.embedding = [0.5, -1, 2.25]
        for event in [Event.interaction(Self.interaction), .item(item)] {
            #expect(try decode(event.json()).get() == event)
        }
        #expect(Event.interaction(Self.interaction).key == 42 && Event.item(item).key == 7)
    }

    @Test func unknownFieldsAreIgnored() throws {
        let json = Event.interaction(Self.interaction).json().dropLast() + #","client":"ios","extra":{"a":1}}"#
        #expect(try decode(String(json)).get() == .interaction(Self.interaction))
    }

    /// String values are read as their text whatever their form: escapes, non-ASCII bytes, escaped
    /// non-ASCII characters and surrogate pairs; a value with invalid UTF-8 makes the event invalid JSON.
    @Test func stringValuesAreReadAsText() throws {
        var e = Self.interaction
        e.eventID = "say \"hi\"\\ é 🙂\n"
        let json = Event.interaction(e).json()
        #expect(try decode(json).get() == .interaction(e))
        let escaped = json.replacingOccurrences(of: "é", with: #"\u00e9"#).replacingOccurrences(of: "🙂", with: #"\ud83d\ude42"#)
        #expect(escaped != json)
        #expect(try decode(escaped).get() == .interaction(e))
        var bytes = Array(json.utf8)
        bytes[bytes.firstIndex(of: 0xC3)!] = 0xFF  // é's first byte
        #expect(EventDecoder(embeddingDimension: 3).decode(bytes, now: Self.now) == .failure(EventRejection(.invalidJSON)))
    }

    /// Member names are matched as JSON reads them: an escaped name is its decoded text, a name that only
    /// shares a prefix, or is longer than any field's, is another member (ignored, or a duplicate).
    @Test func memberNamesMatchTheirDecodedText() throws {
        let json = Event.interaction(Self.interaction).json()
        let escaped = json.replacingOccurrences(of: #""user_id""#, with: #""\u0075ser_id""#)
        #expect(escaped != json)
        #expect(try decode(escaped).get() == .interaction(Self.interaction))
        let near = String(json.dropLast()) + #","user_i":1,"user_idx":2,"watch_time_ms_and_more":3}"#
        #expect(try decode(near).get() == .interaction(Self.interaction))
        let twice = String(json.dropLast()) + #","\u0075ser_id":9}"#
        #expect(decode(twice) == .failure(EventRejection(.invalidJSON)))
    }

    /// Each malformed case is refused with the expected machine-readable reason.
    @Test(arguments: [
        ("not json", "invalid-json"),
        ("[1, 2]", "not-an-object"),
        (#"{"schema": 2, "type": "item"}"#, "unsupported-schema:schema"),
        (#"{"schema": 1, "type": "click"}"#, "unknown-type:type"),
        (#"{"schema": 1, "type": "interaction", "event_id": "e"}"#, "missing-field:user_id"),
        (#"{"schema": 1, "type": "interaction", "event_id": "e", "user_id": "42"}"#, "wrong-type:user_id"),
        (#"{"schema": 1, "type": "interaction", "event_id": "e", "user_id": -1}"#, "out-of-range:user_id"),
        (#"{"schema": 1, "type": "interaction", "event_id": "e", "user_id": 1.5}"#, "wrong-type:user_id"),
        (#"{"schema": 1, "type": "interaction", "event_id": "", "user_id": 1}"#, "out-of-range:event_id"),
        (#"{"schema": 1, "type": "interaction", "event_id": "e", "user_id": 1, "item_id": 2, "timestamp_ms": 99999999999999, "request_id": "r", "position": 0, "watch_time_ms": 1, "duration_ms": 1}"#, "out-of-range:timestamp_ms"),
        (#"{"schema": 1, "type": "interaction", "event_id": "e", "user_id": 1, "item_id": 2, "timestamp_ms": 1799999000000, "request_id": "r", "position": 0, "watch_time_ms": -5, "duration_ms": 1}"#, "out-of-range:watch_time_ms"),
        (#"{"schema": 1, "type": "interaction", "event_id": "e", "user_id": 1, "item_id": 2, "timestamp_ms": 1799999000000, "request_id": "r", "position": 0, "watch_time_ms": 5, "duration_ms": 0}"#, "out-of-range:duration_ms"),
        (#"{"schema": 1, "type": "interaction", "event_id": "e", "user_id": 1, "item_id": 2, "timestamp_ms": 1799999000000, "request_id": "r", "position": 0, "watch_time_ms": 5, "duration_ms": 9, "like": 1}"#, "wrong-type:like"),
        (#"{"schema": 1, "type": "item", "event_id": "e", "item_id": 2, "timestamp_ms": 1799999000000, "embedding": [1, 2]}"#, "wrong-dimension:embedding"),
        (#"{"schema": 1, "type": "item", "event_id": "e", "item_id": 2, "timestamp_ms": 1799999000000, "embedding": [1, "x", 3]}"#, "wrong-type:embedding"),
        (#"{"schema": 1, "type": "item", "event_id": "e", "item_id": 2, "timestamp_ms": 1799999000000, "embedding": [1, 1e39, 3]}"#, "not-finite:embedding"),
        (#"{"schema": 1, "type": "item", "event_id": "e", "item_id": 2, "timestamp_ms": 1799999000000, "tags": "cats"}"#, "wrong-type:tags"),
    ])
    func malformedEventsAreRefusedWithTheirReason(json: String, reason: String) {
        switch decode(json) {
        case .success(let e): Issue.record("accepted \(e)")
        case .failure(let r): #expect(r.description == reason)
        }
    }

    @Test func sizeLimitsHold() {
        let huge = #"{"schema":1,"type":"item","event_id":""# + String(repeating: "x", count: 70_000) + #""}"#
        #expect(decode(huge) == .failure(EventRejection(.tooLarge)))
        let longID = #"{"schema":1,"type":"item","event_id":""# + String(repeating: "x", count: 300) + #"","item_id":1,"timestamp_ms":1799999000000}"#
        #expect(decode(longID) == .failure(EventRejection(.outOfRange, "event_id")))
        var deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(decode(deep) == .failure(EventRejection(.invalidJSON)) || decode(deep) == .failure(EventRejection(.notAnObject)))
        deep = "\u{FFFF}\u{0}"
        #expect(decode(deep) == .failure(EventRejection(.invalidJSON)))
    }
}

@Suite struct JSONStringTests {
    /// The hand-written escaping matches Foundation's (which it replaced for speed) on every ASCII
    /// character, quotes, backslashes, slashes and non-ASCII text.
    @Test func escapingMatchesFoundation() throws {
        var ascii = ""
        for c in 0..<0x80 { ascii.unicodeScalars.append(Unicode.Scalar(c)!) }
        for s in [ascii, "a/b\\c\"d", "é漢字🙂", "\u{7f}\u{80}\u{2028}\u{2029}", "\u{feff}x", ""] {
            let data = try JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
            #expect(Event.jsonString(s) == String(decoding: data.dropFirst().dropLast(), as: UTF8.self))
        }
    }
}
