@testable import Kafka
import Testing

@Suite struct DeliveredOffsetsTests {
    let a0 = TopicPartition(topic: "a", partition: 0)
    let a1 = TopicPartition(topic: "a", partition: 1)

    @Test func aFetchThatGoesBackIsDroppedUntilItPassesWhatWasDelivered() {
        var delivered = DeliveredOffsets()
        #expect((0..<5).map { delivered.admit(a0, offset: $0) } == Array(repeating: .new, count: 5))
        #expect(delivered.admit(a1, offset: 40) == .new)
        // librdkafka restarts a0 at 0: one report for the run of repeats, then the fetch goes on from 5.
        #expect(delivered.admit(a0, offset: 0) == .repeated(owed: 5, first: true))
        #expect(delivered.admit(a0, offset: 1) == .repeated(owed: 5, first: false))
        #expect(delivered.admit(a0, offset: 4) == .repeated(owed: 5, first: false))
        #expect(delivered.admit(a1, offset: 41) == .new)
        #expect(delivered.admit(a0, offset: 5) == .new)
        // A later rewind is a new run.
        #expect(delivered.admit(a0, offset: 2) == .repeated(owed: 6, first: true))
    }

    @Test func aNewAssignmentStartsAfresh() {
        var delivered = DeliveredOffsets()
        delivered.follow(assignmentChanges: 1)
        #expect(delivered.admit(a0, offset: 10) == .new)
        #expect(delivered.admit(a0, offset: 11) == .new)
        delivered.follow(assignmentChanges: 1)
        #expect(delivered.admit(a0, offset: 11) == .repeated(owed: 12, first: true))
        // Reassigned from the application's stored offset, behind a batch still in flight: delivered again.
        delivered.follow(assignmentChanges: 2)
        #expect(delivered.admit(a0, offset: 9) == .new)
        #expect(delivered.admit(a0, offset: 10) == .new)
    }
}
