import Foundation

/// What a user did with an item shown in a session (schema version 1). JSON field names are snake_case;
/// ids are non-negative integers below 2^53 (exact in every JSON parser).
public struct InteractionEvent: Sendable, Equatable {
    public var eventID: String
    public var userID: UInt64
    public var itemID: UInt64
    /// Milliseconds since the Unix epoch.
    public var timestampMs: Int64
    /// The recommendation request (session) the item was shown in.
    public var requestID: String
    /// 0-based position of the item in that session.
    public var position: Int
    public var watchTimeMs: Int64
    public var durationMs: Int64
    public var like = false
    public var follow = false
    public var share = false
    /// Commented on or collected (saved) the item.
    public var collect = false
    public var dislike = false
    public var skip = false

    public init(eventID: String, userID: UInt64, itemID: UInt64, timestampMs: Int64, requestID: String, position: Int,
                watchTimeMs: Int64, durationMs: Int64) {
        (self.eventID, self.userID, self.itemID, self.timestampMs) = (eventID, userID, itemID, timestampMs)
        (self.requestID, self.position, self.watchTimeMs, self.durationMs) = (requestID, position, watchTimeMs, durationMs)
    }

    /// Watched at least half of it, or signalled something positive.
    public var isPositive: Bool { like || follow || share || collect || (durationMs > 0 && watchTimeMs * 2 >= durationMs) }
}

/// A catalog item appearing or changing (schema version 1).
public struct ItemEvent: Sendable, Equatable {
    public var eventID: String
    public var itemID: UInt64
    public var timestampMs: Int64
    public var durationMs: Int64?
    public var authorID: UInt64?
    public var tags: [String] = []
    /// Content embedding, of the deployment's fixed dimension.
    public var embedding: [Float]?

    public init(eventID: String, itemID: UInt64, timestampMs: Int64) {
        (self.eventID, self.itemID, self.timestampMs) = (eventID, itemID, timestampMs)
    }
}

public enum Event: Sendable, Equatable {
    case interaction(InteractionEvent)
    case item(ItemEvent)

    public static let schemaVersion = 1

    /// The Kafka message key: the user (interactions, so a user's events stay in order on one
    /// partition) or the item (item events).
    public var key: UInt64 {
        switch self {
        case let .interaction(e): e.userID
        case let .item(e): e.itemID
        }
    }

    /// The producer's id of the event (duplicates are recognised by it).
    public var eventID: String {
        switch self {
        case let .interaction(e): e.eventID
        case let .item(e): e.eventID
        }
    }

    /// A JSON string literal: quotes, `"` and `\\` escaped, control characters as `\\b \\t \\n \\f \\r` or
    /// `\\u00xx`, everything else (slashes, non-ASCII) as it is.
    static func jsonString(_ s: String) -> String {
        var out = [UInt8]()
        out.reserveCapacity(s.utf8.count + 2)
        out.append(UInt8(ascii: "\""))
        let hex = Array("0123456789abcdef".utf8)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), b]
            case 0x08: out += Array("\\b".utf8)
            case 0x09: out += Array("\\t".utf8)
            case 0x0A: out += Array("\\n".utf8)
            case 0x0C: out += Array("\\f".utf8)
            case 0x0D: out += Array("\\r".utf8)
            case 0..<0x20: out += Array("\\u00".utf8) + [hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
        return String(decoding: out, as: UTF8.self)
    }

    /// One line of JSON with sorted keys: the same event always gives the same bytes.
    public func json() -> String {
        var fields: [(String, String)] = [("schema", "\(Self.schemaVersion)")]
        let string = Self.jsonString
        switch self {
        case let .interaction(e):
            fields += [("type", string("interaction")), ("event_id", string(e.eventID)), ("user_id", "\(e.userID)"),
                       ("item_id", "\(e.itemID)"), ("timestamp_ms", "\(e.timestampMs)"), ("request_id", string(e.requestID)),
                       ("position", "\(e.position)"), ("watch_time_ms", "\(e.watchTimeMs)"), ("duration_ms", "\(e.durationMs)"),
                       ("like", "\(e.like)"), ("follow", "\(e.follow)"), ("share", "\(e.share)"), ("collect", "\(e.collect)")]
            if e.dislike { fields.append(("dislike", "true")) }
            if e.skip { fields.append(("skip", "true")) }
        case let .item(e):
            fields += [("type", string("item")), ("event_id", string(e.eventID)), ("item_id", "\(e.itemID)"), ("timestamp_ms", "\(e.timestampMs)")]
            if let d = e.durationMs { fields.append(("duration_ms", "\(d)")) }
            if let a = e.authorID { fields.append(("author_id", "\(a)")) }
            if !e.tags.isEmpty { fields.append(("tags", "[" + e.tags.map(string).joined(separator: ",") + "]")) }
            if let v = e.embedding { fields.append(("embedding", "[" + v.map { "\($0)" }.joined(separator: ",") + "]")) }
        }
        return "{" + fields.sorted { $0.0 < $1.0 }.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }
}
