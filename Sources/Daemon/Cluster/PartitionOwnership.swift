import Ingest
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// A serve node's share of the users: every 100 ms it has ingest read the interactions partitions the
/// member table gives this node (and those it still answers for until their new owner has rebuilt them),
/// and announces which of them it has ready, i.e. read and stored up to where they once reported their
/// end since they were assigned. A partition it gains is rebuilt from the offset its store kept, or from
/// the start of retention; a partition it loses is no longer read, and its users are answered elsewhere.
final class PartitionOwnership: Service, Sendable {
    private let node: String
    private let members: ClusterMembers
    private let ingest: IngestService
    private let logger: Logger
    /// Partitions read now, those of them ready, and the next offset the store holds for each read.
    private let state = Mutex((reading: Set<Int32>(), ready: Set<Int32>(), stored: [Int32: Int64]()))

    init(node: String, members: ClusterMembers, ingest: IngestService, logger: Logger) {
        (self.node, self.members, self.ingest, self.logger) = (node, members, ingest, logger)
    }

    /// The partitions whose users this node answers for now.
    var ready: Set<Int32> { state.withLock { $0.ready } }
    /// The partitions this node reads now.
    var reading: Set<Int32> { state.withLock { $0.reading } }
    /// The next offset of each partition read, as its store holds it (absent: nothing stored yet).
    var stored: [Int32: Int64] { state.withLock { $0.stored } }

    func run() async throws {
        var counts: (interactions: Int32, items: Int32) = (0, 0)
        var countsAt = ContinuousClock.now - .seconds(3600)
        var gained: [Int32: ContinuousClock.Instant] = [:]  // when each partition being rebuilt was gained
        var owned: (partitions: Set<Int32>, itemPartitions: Int32) = ([], 0)  // what ingest was last told to read
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if countsAt.duration(to: .now) >= .seconds(5) {
                countsAt = .now
                let ingest = self.ingest
                if let fresh = try? await Task.detached(operation: { try ingest.partitionCounts() }).value { counts = fresh }
            }
            if members.caughtUp {
                do {
                    try follow(members.table, counts: counts, gained: &gained, owned: &owned)
                } catch {
                    logger.warning("partition readiness unknown", metadata: ["error": "\(error)"])
                }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    private func follow(_ table: MemberTable, counts: (interactions: Int32, items: Int32),
                        gained: inout [Int32: ContinuousClock.Instant], owned: inout (partitions: Set<Int32>, itemPartitions: Int32)) throws {
        let reading = self.reading
        let (stored, caughtUp) = try ingest.progress()
        let ready = caughtUp.intersection(reading)
        let wanted = table.reading(node, ready: ready)
        if (wanted, counts.items) != owned {  // the items topic may be created after this node started
            ingest.own(wanted, itemPartitions: counts.items)
            owned = (wanted, counts.items)
        }
        if wanted != reading {
            let added = wanted.subtracting(reading), removed = reading.subtracting(wanted)
            for p in added { gained[p] = .now }
            for p in removed { gained[p] = nil }
            logger.notice("partitions read changed", metadata: [
                "gained": "\(added.sorted())", "given up": "\(removed.sorted())", "reading": "\(wanted.sorted())"])
        }
        let nowReady = ready.intersection(wanted)
        for p in nowReady {
            guard let since = gained.removeValue(forKey: p) else { continue }
            let took = since.duration(to: .now).components
            let seconds = Double(took.seconds) + Double(took.attoseconds) / 1e18
            Timer(label: "onerec_cluster_partition_rebuild_seconds", preferredDisplayUnit: .seconds).recordSeconds(seconds)
            logger.notice("partition ready", metadata: ["partition": "\(p)", "seconds": "\(seconds)"])
        }
        state.withLock { $0 = (wanted, nowReady, stored) }
        members.announce(partitions: max(counts.interactions, table.partitionCount), ready: nowReady.sorted())
    }
}
