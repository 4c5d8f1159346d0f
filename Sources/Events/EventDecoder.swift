import Foundation

/// Why an event was refused: a machine-readable reason and the field it concerns.
public struct EventRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        case tooLarge = "too-large"
        case invalidJSON = "invalid-json"
        case notAnObject = "not-an-object"
        case unsupportedSchema = "unsupported-schema"
        case unknownType = "unknown-type"
        case missingField = "missing-field"
        case wrongType = "wrong-type"
        case outOfRange = "out-of-range"
        case notFinite = "not-finite"
        case wrongDimension = "wrong-dimension"
    }

    public let reason: Reason
    public let field: String?

    public init(_ reason: Reason, _ field: String? = nil) {
        self.reason = reason
        self.field = field
    }

    /// e.g. "out-of-range:watch_time_ms"
    public var description: String { field.map { "\(reason.rawValue):\($0)" } ?? reason.rawValue }
}

/// Parses and validates events: every entry point (Kafka, HTTP, files) goes through this one decoder.
/// Required fields, types and ranges are checked; unknown fields are ignored; limits bound sizes.
public struct EventDecoder: Sendable {
    /// Largest accepted event, in bytes. Default 64 KiB.
    public var maxBytes = 64 << 10
    /// Longest id or tag string. Default 256.
    public var maxStringLength = 256
    /// Most tags per item. Default 64.
    public var maxTags = 64
    /// Required dimension of item embeddings (nil: any dimension up to 4096).
    public var embeddingDimension: Int?
    /// Latest accepted timestamp, relative to now. Default one day (clock skew); further is an error.
    public var futureTolerance: TimeInterval = 86_400
    /// Longest accepted watch time or duration, ms. Default 24 h.
    public var maxDurationMs: Int64 = 86_400_000

    public init(embeddingDimension: Int? = nil) { self.embeddingDimension = embeddingDimension }

    public func decode(_ bytes: [UInt8], now: Date = Date()) -> Result<Event, EventRejection> {
        guard bytes.count <= maxBytes else { return .failure(EventRejection(.tooLarge)) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) else {
            return .failure(EventRejection(.invalidJSON))
        }
        guard let fields = object as? [String: Any] else { return .failure(EventRejection(.notAnObject)) }
        do {
            let reader = FieldReader(fields: fields, decoder: self, now: now)
            guard try reader.integer("schema", 1...1_000_000) == Int64(Event.schemaVersion) else {
                throw EventRejection(.unsupportedSchema, "schema")
            }
            switch try reader.string("type") {
            case "interaction": return .success(.interaction(try interaction(reader)))
            case "item": return .success(.item(try item(reader)))
            default: throw EventRejection(.unknownType, "type")
            }
        } catch let rejection as EventRejection {
            return .failure(rejection)
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
    }

    private func interaction(_ r: FieldReader) throws -> InteractionEvent {
        var e = InteractionEvent(
            eventID: try r.string("event_id"), userID: try r.id("user_id"), itemID: try r.id("item_id"),
            timestampMs: try r.timestamp(), requestID: try r.string("request_id"),
            position: Int(try r.integer("position", 0...9_999)),
            watchTimeMs: try r.integer("watch_time_ms", 0...maxDurationMs), durationMs: try r.integer("duration_ms", 1...maxDurationMs))
        e.like = try r.bool("like") ?? false
        e.follow = try r.bool("follow") ?? false
        e.share = try r.bool("share") ?? false
        e.collect = try r.bool("collect") ?? false
        e.dislike = try r.bool("dislike") ?? false
        e.skip = try r.bool("skip") ?? false
        return e
    }

    private func item(_ r: FieldReader) throws -> ItemEvent {
        var e = ItemEvent(eventID: try r.string("event_id"), itemID: try r.id("item_id"), timestampMs: try r.timestamp())
        if r.has("duration_ms") { e.durationMs = try r.integer("duration_ms", 1...maxDurationMs) }
        if r.has("author_id") { e.authorID = try r.id("author_id") }
        if r.has("tags") {
            guard let tags = r.fields["tags"] as? [Any] else { throw EventRejection(.wrongType, "tags") }
            guard tags.count <= maxTags else { throw EventRejection(.tooLarge, "tags") }
            e.tags = try tags.map { t in
                guard let s = t as? String else { throw EventRejection(.wrongType, "tags") }
                guard !s.isEmpty, s.utf8.count <= maxStringLength else { throw EventRejection(.outOfRange, "tags") }
                return s
            }
        }
        if r.has("embedding") {
            guard let values = r.fields["embedding"] as? [Any] else { throw EventRejection(.wrongType, "embedding") }
            let dimension = embeddingDimension ?? values.count
            guard values.count == dimension, dimension >= 1, dimension <= 4096 else { throw EventRejection(.wrongDimension, "embedding") }
            e.embedding = try values.map { v in
                guard let n = v as? NSNumber, !isBool(n) else { throw EventRejection(.wrongType, "embedding") }
                let f = n.floatValue
                guard f.isFinite else { throw EventRejection(.notFinite, "embedding") }
                return f
            }
        }
        return e
    }
}

/// Typed access to a decoded JSON object, throwing the right rejection for each field.
struct FieldReader {
    let fields: [String: Any]
    let decoder: EventDecoder
    let now: Date

    func has(_ name: String) -> Bool { fields[name] != nil && !(fields[name] is NSNull) }

    func string(_ name: String) throws -> String {
        guard let value = fields[name], !(value is NSNull) else { throw EventRejection(.missingField, name) }
        guard let s = value as? String else { throw EventRejection(.wrongType, name) }
        guard !s.isEmpty, s.utf8.count <= decoder.maxStringLength else { throw EventRejection(.outOfRange, name) }
        return s
    }

    func integer(_ name: String, _ range: ClosedRange<Int64>) throws -> Int64 {
        guard let value = fields[name], !(value is NSNull) else { throw EventRejection(.missingField, name) }
        guard let n = value as? NSNumber, !isBool(n) else { throw EventRejection(.wrongType, name) }
        let d = n.doubleValue
        guard d.isFinite else { throw EventRejection(.notFinite, name) }
        guard d == d.rounded() else { throw EventRejection(.wrongType, name) }
        guard d >= Double(range.lowerBound), d <= Double(range.upperBound) else { throw EventRejection(.outOfRange, name) }
        return Int64(d)
    }

    /// A non-negative integer id below 2^53.
    func id(_ name: String) throws -> UInt64 { UInt64(try integer(name, 0...(1 << 53) - 1)) }

    /// `timestamp_ms`: after 2000-01-01 and not further in the future than the tolerance.
    func timestamp() throws -> Int64 {
        let latest = Int64((now.timeIntervalSince1970 + decoder.futureTolerance) * 1000)
        return try integer("timestamp_ms", 946_684_800_000...latest)
    }

    func bool(_ name: String) throws -> Bool? {
        guard let value = fields[name], !(value is NSNull) else { return nil }
        guard let n = value as? NSNumber, isBool(n) else { throw EventRejection(.wrongType, name) }
        return n.boolValue
    }
}

/// JSON booleans and numbers both arrive as NSNumber; JSONSerialization gives booleans the objCType
/// "c" (char) and numbers "i", "q" or "d", so 1 and true stay apart.
func isBool(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }
