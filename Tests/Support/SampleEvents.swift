import Events

/// Interaction `i` of a test stream: item `i % 50`, a second apart from 2026-01-01, five to a request.
public func sampleInteraction(_ i: Int, user: UInt64, eventID: String? = nil) -> Event {
    .interaction(InteractionEvent(eventID: eventID ?? "e\(i)", userID: user, itemID: UInt64(i % 50), timestampMs: 1_767_225_600_000 + Int64(i) * 1000,
                                  requestID: "r\(i / 5)", position: i % 5, watchTimeMs: 1000, durationMs: 2000))
}
