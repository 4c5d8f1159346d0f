@testable import Ingest
import Testing

/// The member table: who is live by the records' timestamps, partitions spread evenly over the live serve
/// nodes and moved only as far as needed, and who answers while a partition is rebuilt.
@Suite struct MemberTableTests {
    func heartbeat(_ node: String, role: MemberRecord.Role = .serve, ready: [Int32] = [], partitions: Int32 = 12) -> MemberRecord {
        MemberRecord(kind: .heartbeat, node: node, role: role, url: "http://\(node):8080", partitions: partitions, ready: ready, servingVersion: 1)
    }

    func counts(_ table: MemberTable) -> [String: Int] { Dictionary(grouping: table.owners.values, by: { $0 }).mapValues(\.count) }

    @Test func partitionsSpreadEvenlyOverServeNodesOnly() {
        var table = MemberTable(timeoutMs: 10_000)
        for (i, node) in ["a", "b", "c"].enumerated() { table.apply(heartbeat(node), timestampMs: Int64(i)) }
        table.apply(heartbeat("trainer", role: .train, partitions: 0), timestampMs: 3)
        #expect(table.partitionCount == 12)
        #expect(counts(table) == ["a": 4, "b": 4, "c": 4])
        // Every reader that applies the same records agrees, whatever order the nodes joined in.
        var other = MemberTable(timeoutMs: 10_000)
        for (i, node) in ["trainer", "c", "a", "b"].enumerated() { other.apply(heartbeat(node, role: node == "trainer" ? .train : .serve), timestampMs: Int64(i)) }
        #expect(other.owners == table.owners)
    }

    /// A node silent past the timeout (judged by the newest record's timestamp) loses its partitions;
    /// the others share its four and keep (nearly all of) theirs.
    @Test func aSilentNodesPartitionsMoveAndNoOtherDoes() {
        var table = MemberTable(timeoutMs: 10_000)
        for node in ["a", "b", "c"] { table.apply(heartbeat(node), timestampMs: 0) }
        let before = table.owners
        table.apply(heartbeat("a"), timestampMs: 9_000)
        table.apply(heartbeat("b"), timestampMs: 9_500)
        #expect(table.owners == before, "c is silent 9.5 s of 10")
        let changed = table.apply(heartbeat("a"), timestampMs: 10_001)
        #expect(changed)
        #expect(Set(table.live.keys) == ["a", "b"])
        #expect(counts(table) == ["a": 6, "b": 6])
        // With bounded load a survivor may take one of another survivor's partitions (its first choice,
        // full before); the handover keeps the old owner answering until it is rebuilt.
        let movedBetweenSurvivors = before.filter { $0.value != "c" && table.owners[$0.key] != $0.value }.count
        #expect(movedBetweenSurvivors <= 2)
        // It comes back: it is live again and gets partitions again.
        table.apply(heartbeat("c"), timestampMs: 10_500)
        #expect(counts(table) == ["a": 4, "b": 4, "c": 4])
    }

    @Test func aLeaveMovesPartitionsAtOnce() {
        var table = MemberTable(timeoutMs: 10_000)
        for node in ["a", "b"] { table.apply(heartbeat(node), timestampMs: 0) }
        var leave = heartbeat("b")
        leave.kind = .leave
        table.apply(leave, timestampMs: 1)
        #expect(counts(table) == ["a": 12])
        // An older record read late (another writer's clock) does not undo the newer one.
        table.apply(heartbeat("b"), timestampMs: 0)
        #expect(counts(table) == ["a": 12])
    }

    /// While a partition's new owner rebuilds it, the node that has it ready answers and keeps reading
    /// it; once the owner reports it ready, the owner answers and the other lets it go.
    @Test func thePreviousOwnerAnswersUntilTheNewOneIsReady() {
        var table = MemberTable(timeoutMs: 10_000)
        table.apply(heartbeat("a", ready: Array(0..<12)), timestampMs: 0)
        table.apply(heartbeat("b"), timestampMs: 1)
        let moved = table.owners.filter { $0.value == "b" }.map(\.key).sorted()
        #expect(moved.count == 6)
        for p in moved { #expect(table.answering(p) == "a") }
        #expect(table.reading("a", ready: Set(0..<12)) == Set(0..<12))
        #expect(table.reading("b", ready: []) == Set(moved))
        table.apply(heartbeat("b", ready: moved), timestampMs: 2)
        for p in moved { #expect(table.answering(p) == "b") }
        #expect(table.reading("a", ready: Set(0..<12)) == Set(0..<12).subtracting(moved))
        // The owner dead before it is ready: the owner is who it is, and no live node has the partition.
        var lonely = MemberTable(timeoutMs: 10_000)
        lonely.apply(heartbeat("b"), timestampMs: 0)
        #expect(lonely.answering(0) == "b")
        #expect(MemberTable(timeoutMs: 10_000).answering(0) == nil)
    }

    /// Over many cluster sizes the load stays within one partition of even, and removing one node moves
    /// its partitions and few others.
    @Test func balancedAndSticky() {
        for nodes in 2...8 {
            let names = (0..<nodes).map { "node-\($0)" }
            let owners = MemberTable.assign(partitions: 24, to: names)
            let load = Dictionary(grouping: owners.values, by: { $0 }).mapValues(\.count)
            #expect(load.values.max()! - load.values.min()! <= 1 && load.count == nodes)
            let after = MemberTable.assign(partitions: 24, to: Array(names.dropLast()))
            let movedOthers = owners.filter { $0.value != names.last! && after[$0.key] != $0.value }.count
            #expect(movedOthers <= 24 / nodes, "\(movedOthers) partitions moved between surviving nodes of \(nodes)")
        }
    }
}
