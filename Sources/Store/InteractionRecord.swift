import Events

/// An interaction as the store's log keeps it: the validated fields in binary, about a quarter of the
/// event's JSON, so the log fills far less of the map. Fields the producer sent beyond the schema are not
/// kept.
///
/// Layout, integers little-endian: user, item, timestamp, watch time, duration (8 bytes each), position
/// (2), flags (1: like, follow, share, collect, dislike, skip from bit 0), then the event id and the
/// request id, each as a 2-byte length and its UTF-8 bytes.
enum InteractionRecord {
    /// Bytes `write` needs for `e`.
    static func size(of e: InteractionEvent) -> Int { fixedSize + 2 + e.eventID.utf8.count + 2 + e.requestID.utf8.count }

    /// Writes `e` at the start of `out`, which holds at least `size(of: e)` bytes. `e` is valid as
    /// `EventDecoder` checks it (positions up to 9,999, ids up to 256 bytes); beyond a record's limits
    /// (positions up to 65,535, ids up to 65,535 bytes) it traps.
    static func write(_ e: InteractionEvent, into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= size(of: e), "an interaction record needs \(size(of: e)) bytes, got \(out.count)")
        precondition((0...Int(UInt16.max)).contains(e.position), "position \(e.position) does not fit an interaction record")
        var at = 0
        func put<T: FixedWidthInteger>(_ value: T) {
            out.storeBytes(of: value.littleEndian, toByteOffset: at, as: T.self)
            at += MemoryLayout<T>.size
        }
        func put(_ s: String) {
            var s = s
            s.withUTF8 { utf8 in
                precondition(utf8.count <= UInt16.max, "an id of \(utf8.count) bytes does not fit an interaction record")
                put(UInt16(utf8.count))
                UnsafeMutableRawBufferPointer(rebasing: out[at..<at + utf8.count]).copyMemory(from: UnsafeRawBufferPointer(utf8))
                at += utf8.count
            }
        }
        put(e.userID)
        put(e.itemID)
        put(e.timestampMs)
        put(e.watchTimeMs)
        put(e.durationMs)
        put(UInt16(e.position))
        let flags = [e.like, e.follow, e.share, e.collect, e.dislike, e.skip].enumerated().reduce(UInt8(0)) { $0 | ($1.element ? 1 << $1.offset : 0) }
        put(flags)
        put(e.eventID)
        put(e.requestID)
    }

    /// The interaction `write` wrote into `bytes`; nil if they are not such a record (a damaged store).
    static func read(_ bytes: UnsafeRawBufferPointer) -> InteractionEvent? {
        var at = 0
        func get<T: FixedWidthInteger>(_: T.Type) -> T? {
            guard at + MemoryLayout<T>.size <= bytes.count else { return nil }
            defer { at += MemoryLayout<T>.size }
            return T(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: T.self))
        }
        func string() -> String? {
            guard let n = get(UInt16.self), at + Int(n) <= bytes.count else { return nil }
            defer { at += Int(n) }
            return String(validating: UnsafeRawBufferPointer(rebasing: bytes[at..<at + Int(n)]).bindMemory(to: UInt8.self), as: UTF8.self)
        }
        guard let user = get(UInt64.self), let item = get(UInt64.self), let time = get(Int64.self), let watch = get(Int64.self),
              let duration = get(Int64.self), let position = get(UInt16.self), let flags = get(UInt8.self),
              let eventID = string(), let requestID = string(), at == bytes.count else { return nil }
        var e = InteractionEvent(eventID: eventID, userID: user, itemID: item, timestampMs: time, requestID: requestID,
                                 position: Int(position), watchTimeMs: watch, durationMs: duration)
        (e.like, e.follow, e.share) = (flags & 1 != 0, flags & 2 != 0, flags & 4 != 0)
        (e.collect, e.dislike, e.skip) = (flags & 8 != 0, flags & 16 != 0, flags & 32 != 0)
        return e
    }

    /// The integers and the flags byte.
    private static let fixedSize = 5 * 8 + 2 + 1
}
