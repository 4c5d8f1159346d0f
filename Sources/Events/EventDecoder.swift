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

    /// `bytes`: the event's JSON, e.g. a `[UInt8]` or a Kafka message read in place.
    public func decode(_ bytes: some ContiguousBytes, now: Date = Date()) -> Result<Event, EventRejection> {
        bytes.withUnsafeBytes { decode($0.bindMemory(to: UInt8.self), now: now) }
    }

    private func decode(_ bytes: UnsafeBufferPointer<UInt8>, now: Date) -> Result<Event, EventRejection> {
        guard bytes.count <= maxBytes else { return .failure(EventRejection(.tooLarge)) }
        return withUnsafeTemporaryAllocation(of: ScannedValue?.self, capacity: Field.names.count) { fields in
            fields.initialize(repeating: nil)
            let scanned: (parser: JSONParser, object: Bool)
            do {
                // The whole text is checked first: a syntax error anywhere is invalid-json, whatever the fields.
                scanned = try JSONParser.whole(bytes, maxDepth: 32) { parser throws(JSONSyntaxError) in
                    guard parser.current == UInt8(ascii: "{") else {
                        _ = try parser.value(depth: 0)
                        return (parser, false)
                    }
                    try parser.scanMembers(named: Field.names, into: fields)
                    return (parser, true)
                }
            } catch {
                return .failure(EventRejection(.invalidJSON))
            }
            guard scanned.object else { return .failure(EventRejection(.notAnObject)) }
            do {
                let reader = FieldReader(parser: scanned.parser, fields: UnsafeBufferPointer(fields), decoder: self, now: now)
                guard try reader.integer(.schema, 1...1_000_000) == Int64(Event.schemaVersion) else {
                    throw EventRejection(.unsupportedSchema, Field.schema.name)
                }
                switch try reader.string(.type) {
                case "interaction": return .success(.interaction(try interaction(reader)))
                case "item": return .success(.item(try item(reader)))
                default: throw EventRejection(.unknownType, Field.type.name)
                }
            } catch let rejection as EventRejection {
                return .failure(rejection)
            } catch {
                preconditionFailure("unexpected error \(error)")
            }
        }
    }

    private func interaction(_ r: FieldReader) throws -> InteractionEvent {
        var e = InteractionEvent(
            eventID: try r.string(.eventID), userID: try r.id(.userID), itemID: try r.id(.itemID),
            timestampMs: try r.timestamp(), requestID: try r.string(.requestID),
            position: Int(try r.integer(.position, 0...9_999)),
            watchTimeMs: try r.integer(.watchTimeMs, 0...maxDurationMs), durationMs: try r.integer(.durationMs, 1...maxDurationMs))
        e.like = try r.bool(.like) ?? false
        e.follow = try r.bool(.follow) ?? false
        e.share = try r.bool(.share) ?? false
        e.collect = try r.bool(.collect) ?? false
        e.dislike = try r.bool(.dislike) ?? false
        e.skip = try r.bool(.skip) ?? false
        return e
    }

    private func item(_ r: FieldReader) throws -> ItemEvent {
        var e = ItemEvent(eventID: try r.string(.eventID), itemID: try r.id(.itemID), timestampMs: try r.timestamp())
        if r.has(.durationMs) { e.durationMs = try r.integer(.durationMs, 1...maxDurationMs) }
        if r.has(.authorID) { e.authorID = try r.id(.authorID) }
        if r.has(.tags) {
            guard let tags = r.array(.tags) else { throw EventRejection(.wrongType, "tags") }
            guard tags.count <= maxTags else { throw EventRejection(.tooLarge, "tags") }
            e.tags = try tags.map { t in
                guard case let .string(s) = t else { throw EventRejection(.wrongType, "tags") }
                guard !s.isEmpty, s.utf8.count <= maxStringLength else { throw EventRejection(.outOfRange, "tags") }
                return s
            }
        }
        if r.has(.embedding) {
            guard let values = r.array(.embedding) else { throw EventRejection(.wrongType, "embedding") }
            let dimension = embeddingDimension ?? values.count
            guard values.count == dimension, dimension >= 1, dimension <= 4096 else { throw EventRejection(.wrongDimension, "embedding") }
            e.embedding = try values.map { v in
                guard case let .number(n) = v else { throw EventRejection(.wrongType, "embedding") }
                let f = Float(n)
                guard f.isFinite else { throw EventRejection(.notFinite, "embedding") }
                return f
            }
        }
        return e
    }
}

/// The top-level members the decoder reads.
enum Field: Int, CaseIterable {
    case schema, type, eventID, userID, itemID, timestampMs, requestID, position, watchTimeMs, durationMs
    case like, follow, share, collect, dislike, skip, authorID, tags, embedding

    /// The JSON name.
    var name: String {
        switch self {
        case .schema: "schema"
        case .type: "type"
        case .eventID: "event_id"
        case .userID: "user_id"
        case .itemID: "item_id"
        case .timestampMs: "timestamp_ms"
        case .requestID: "request_id"
        case .position: "position"
        case .watchTimeMs: "watch_time_ms"
        case .durationMs: "duration_ms"
        case .like: "like"
        case .follow: "follow"
        case .share: "share"
        case .collect: "collect"
        case .dislike: "dislike"
        case .skip: "skip"
        case .authorID: "author_id"
        case .tags: "tags"
        case .embedding: "embedding"
        }
    }

    static let names = MemberNames(allCases.map(\.name))
}

/// Typed access to an event's members, throwing the right rejection for each field.
struct FieldReader {
    /// The parser that scanned the event (its text).
    let parser: JSONParser
    /// By `Field` raw value.
    let fields: UnsafeBufferPointer<ScannedValue?>
    let decoder: EventDecoder
    let now: Date

    /// The member as scanned; null counts as missing.
    subscript(field: Field) -> ScannedValue? {
        guard let value = fields[field.rawValue], value.kind != .null else { return nil }
        return value
    }

    func has(_ field: Field) -> Bool { self[field] != nil }

    /// The member's elements; nil if it is not an array (tags, embedding).
    func array(_ field: Field) -> [JSONValue]? {
        guard let scanned = self[field], scanned.kind == .composite, case let .array(elements) = parser.value(at: scanned.range) else { return nil }
        return elements
    }

    func string(_ field: Field) throws -> String {
        guard let value = self[field] else { throw EventRejection(.missingField, field.name) }
        guard value.kind == .string else { throw EventRejection(.wrongType, field.name) }
        let s = parser.string(at: value.range, escaped: value.escaped)
        guard !s.isEmpty, s.utf8.count <= decoder.maxStringLength else { throw EventRejection(.outOfRange, field.name) }
        return s
    }

    /// An integral number (5 and 5.0 alike) within `range`.
    func integer(_ field: Field, _ range: ClosedRange<Int64>) throws -> Int64 {
        guard let value = self[field] else { throw EventRejection(.missingField, field.name) }
        guard value.kind == .number else { throw EventRejection(.wrongType, field.name) }
        let d = value.number
        guard d.isFinite else { throw EventRejection(.notFinite, field.name) }
        guard d == d.rounded() else { throw EventRejection(.wrongType, field.name) }
        guard d >= Double(range.lowerBound), d <= Double(range.upperBound) else { throw EventRejection(.outOfRange, field.name) }
        return Int64(d)
    }

    /// A non-negative integer id below 2^53.
    func id(_ field: Field) throws -> UInt64 { UInt64(try integer(field, 0...(1 << 53) - 1)) }

    /// `timestamp_ms`: after 2000-01-01 and not further in the future than the tolerance.
    func timestamp() throws -> Int64 {
        let latest = Int64((now.timeIntervalSince1970 + decoder.futureTolerance) * 1000)
        return try integer(.timestampMs, 946_684_800_000...latest)
    }

    func bool(_ field: Field) throws -> Bool? {
        guard let value = self[field] else { return nil }
        guard value.kind == .bool else { throw EventRejection(.wrongType, field.name) }
        return value.bool
    }
}
