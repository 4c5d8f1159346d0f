/// The next offset owed to the application on each partition since the assignment last changed; a
/// message below it was delivered already under this assignment and is a repeat.
///
/// Within one assignment a consumer never asks for a message twice (a batch is stored or the consumer
/// stops), yet librdkafka 2.0.2 sometimes moves a partition's fetch position back on its own: after every
/// broker was down while a partition sat paused at its end, the position validation that follows the
/// leader's return restarted the partition at an offset long since delivered (the stale fetch start of
/// librdkafka issues 4637 and 4686, fixed upstream in 2.4). The poll thread drops such repeats and sends
/// the partition back to where it was. A new assignment starts afresh: its start offsets come from the
/// application (`onAssign`) or the group, and may legitimately repeat a batch that was still in flight.
struct DeliveredOffsets {
    enum Admission: Equatable {
        case new
        /// Delivered already; the partition owes `owed` next. `first` marks the first of a run of repeats
        /// (when to send the partition back and say so).
        case repeated(owed: Int64, first: Bool)
    }

    private var next: [TopicPartition: Int64] = [:]
    private var repeating: Set<TopicPartition> = []
    private var assignmentSeen = 0

    /// Forgets every partition when the assignment has changed since the last call.
    mutating func follow(assignmentChanges: Int) {
        guard assignmentChanges != assignmentSeen else { return }
        assignmentSeen = assignmentChanges
        next.removeAll()
        repeating.removeAll()
    }

    /// Whether the message at `offset` of `partition` is new (then it counts as delivered) or a repeat.
    mutating func admit(_ partition: TopicPartition, offset: Int64) -> Admission {
        if let owed = next[partition], offset < owed {
            return .repeated(owed: owed, first: repeating.insert(partition).inserted)
        }
        repeating.remove(partition)
        next[partition] = offset + 1
        return .new
    }
}
