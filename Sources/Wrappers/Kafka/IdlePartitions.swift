import CRdKafka
import Foundation
import Synchronization

/// Partitions the consumer has read to their end, paused until the broker has more for them.
///
/// librdkafka sends the next fetch as soon as an empty answer comes back and counts on the broker to hold
/// a fetch until data arrives (`fetch.wait.max.ms`). A broker that answers at once (the test broker,
/// noida-db, does) turns a caught-up consumer into a busy loop on both sides: measured with kcat -G idle at
/// the end of a topic, 45% of a core for kcat and 40% for the broker. So a partition that reports its end
/// (`enable.partition.eof`) is paused, and every check interval the brokers are asked for the paused
/// partitions' latest offsets (one small request per leader); once one is past its end, the partition is
/// resumed and librdkafka fetches from the consumer's position.
///
/// Pause, resume and the end-offset queries run on a thread of their own (`control`): librdkafka (2.0.2)
/// waits without limit for a partition's broker thread to take a pause or resume, and a query may wait its
/// whole timeout when a broker has gone away; the poll thread must go on meanwhile (it delivers, among
/// others, the "all brokers down" error). Each block on `control` brings a partition to what is wanted at
/// that moment (`ends` lists the partitions wanted paused), so blocks that run late never undo a newer wish.
final class IdlePartitions: Sendable {
    private let client: KafkaClient
    private let interval: TimeInterval
    /// Where a failed pause or resume is reported; neither stops the consumer (a pause that failed leaves
    /// the partition fetching, a resume that failed is tried again at the next check).
    private let report: @Sendable (KafkaError) -> Void
    /// Partitions wanted paused and the offset at which each reached its end.
    private let ends = Mutex<[TopicPartition: Int64]>([:])
    /// When the last end-offset check was queued, and whether it is still queued or running on `control`.
    private let check = Mutex((last: Date.distantPast, busy: false))
    /// The consumer's assignment-change count when last seen.
    private let assignmentSeen = Mutex(0)
    private let control = DispatchQueue(label: "kafka-pause-resume")

    init(client: KafkaClient, interval: Duration, report: @escaping @Sendable (KafkaError) -> Void) {
        self.client = client
        self.interval = TimeInterval(interval.milliseconds) / 1000
        self.report = report
    }

    /// The partitions wanted paused at their end now.
    var paused: Set<TopicPartition> { Set(ends.withLock { $0.keys }) }

    /// `partition` reached its end at `offset`: pause it. Messages librdkafka fetched for it after that
    /// point are dropped by the pause and fetched again from the consumer's position on resume.
    func reachedEnd(_ partition: TopicPartition, at offset: Int64) {
        ends.withLock { $0[partition] = offset }
        control.async { [self] in reconcile([partition]) }
    }

    /// Resumes the paused partitions whose latest offset moved past their end; checked at most once per
    /// interval, one check at a time.
    func resumeGrown() {
        guard !ends.withLock({ $0.isEmpty }), check.withLock({ c in
            guard !c.busy, Date().timeIntervalSince(c.last) >= interval else { return false }
            c = (Date(), true)
            return true
        }) else { return }
        control.async { [self] in
            defer { check.withLock { $0.busy = false } }
            let waiting = ends.withLock { $0 }
            // One ListOffsets request per leader for the latest offsets (timestamp -1); it honours its
            // timeout, unlike rd_kafka_query_watermark_offsets, which waits out a dead connection.
            let list = PartitionList(waiting.mapValues { _ in Int64(RD_KAFKA_OFFSET_END) })
            defer { list.destroy() }
            let err = rd_kafka_offsets_for_times(client.handle, list.pointer, 1000)
            var grown: [TopicPartition] = []
            for e in PartitionList.elements(list.pointer) {
                let partition = TopicPartition(topic: String(cString: e.topic), partition: e.partition)
                guard let end = waiting[partition] else { continue }
                // No answer (broker away, partition moved) resumes the partition too: librdkafka's own fetch
                // path then reports and handles the condition as for any partition.
                guard err != RD_KAFKA_RESP_ERR_NO_ERROR || e.err != RD_KAFKA_RESP_ERR_NO_ERROR || e.offset > end else { continue }
                // Only if it is still paused at that end (it may have been resumed and paused again since).
                if ends.withLock({ wanted in wanted[partition] == end ? wanted.removeValue(forKey: partition) != nil : false }) { grown.append(partition) }
            }
            reconcile(grown)
        }
    }

    /// When the assignment has changed since the last call, resumes every paused partition: a pause must
    /// not outlive the assignment it was made in, whether librdkafka keeps it or not. Called on every turn
    /// of the poll loop and before each end is recorded (rebalances happen inside polls), so an end
    /// reported under the new assignment is not undone.
    func follow(assignmentChanges: Int) {
        guard assignmentSeen.withLock({ seen in defer { seen = assignmentChanges }; return seen != assignmentChanges }) else { return }
        let all = ends.withLock { e in defer { e.removeAll() }; return Array(e.keys) }
        if !all.isEmpty { control.async { [self] in reconcile(all) } }
    }

    /// On `control`: pauses those of `partitions` wanted paused now and resumes the others. A failed pause
    /// forgets the wish (the partition keeps fetching); a failed resume is retried at the next check.
    private func reconcile(_ partitions: [TopicPartition]) {
        dispatchPrecondition(condition: .onQueue(control))
        let wanted = ends.withLock { e in partitions.filter { e[$0] != nil } }
        let running = partitions.filter { !wanted.contains($0) }
        for p in failed(rd_kafka_pause_partitions, wanted, "pause at the partition's end") { ends.withLock { $0[p] = nil } }
        for p in failed(rd_kafka_resume_partitions, running, "resume after new messages") { ends.withLock { $0[p] = $0[p] ?? -1 } }
    }

    /// Runs a pause or resume call; returns the partitions it failed for, reported ("not assigned" is no
    /// failure: there is nothing left to pause or resume).
    private func failed(_ call: (OpaquePointer?, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) -> rd_kafka_resp_err_t,
                        _ partitions: [TopicPartition], _ operation: String) -> [TopicPartition] {
        guard !partitions.isEmpty else { return [] }
        let list = PartitionList(Dictionary(uniqueKeysWithValues: partitions.map { ($0, Int64(RD_KAFKA_OFFSET_INVALID)) }))
        defer { list.destroy() }
        let err = call(client.handle, list.pointer)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            report(KafkaError(err, "\(operation): \(partitions)"))
            return partitions
        }
        return list.errors().filter { $0.1 != RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION }.map { partition, code in
            report(KafkaError(code, "\(operation): \(partition)"))
            return partition
        }
    }
}
