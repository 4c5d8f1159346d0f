import CRdKafka
import Foundation
import Synchronization

/// Partitions the consumer has read to their end, paused until the broker has more for them.
///
/// librdkafka sends the next fetch as soon as an empty answer comes back and counts on the broker to hold
/// a fetch until data arrives (`fetch.wait.max.ms`). A broker that answers at once (the test broker,
/// noida-db, does) turns a caught-up consumer into a busy loop on both sides: measured with kcat -G idle at
/// the end of a topic, 45% of a core for kcat and 40% for the broker. So a partition that reports its end
/// (`enable.partition.eof`) is paused, and every check interval the broker is asked for the partition's
/// high watermark (one small request); once it is past the end, the partition is resumed and librdkafka
/// fetches from the consumer's position.
///
/// Changed on the poll thread only (rebalance callbacks run there too); `paused` may be read anywhere.
final class IdlePartitions: Sendable {
    private let client: KafkaClient
    private let interval: TimeInterval
    /// Where a failed pause or resume is reported; neither stops the consumer (a pause that failed leaves
    /// the partition fetching, a resume that failed is tried again at the next check).
    private let report: @Sendable (KafkaError) -> Void
    /// Paused partitions and the offset at which each reached its end.
    private let ends = Mutex<[TopicPartition: Int64]>([:])
    private let lastCheck = Mutex(Date.distantPast)
    /// The consumer's assignment-change count when last seen.
    private let assignmentSeen = Mutex(0)

    init(client: KafkaClient, interval: Duration, report: @escaping @Sendable (KafkaError) -> Void) {
        self.client = client
        self.interval = TimeInterval(interval.milliseconds) / 1000
        self.report = report
    }

    /// The partitions paused at their end now.
    var paused: Set<TopicPartition> { Set(ends.withLock { $0.keys }) }

    /// `partition` reached its end at `offset`: pause it. Messages librdkafka fetched for it after that
    /// point are dropped by the pause and fetched again from the consumer's position on resume.
    func reachedEnd(_ partition: TopicPartition, at offset: Int64) {
        if apply(rd_kafka_pause_partitions, [partition], "pause at the partition's end").contains(partition) {
            ends.withLock { $0[partition] = offset }
        }
    }

    /// Resumes the paused partitions whose high watermark moved past their end, at most once per interval.
    func resumeGrown() {
        let waiting = ends.withLock { $0 }
        guard !waiting.isEmpty, lastCheck.withLock({ Date().timeIntervalSince($0) >= interval }) else { return }
        lastCheck.withLock { $0 = Date() }
        var grown: [TopicPartition] = []
        for (partition, end) in waiting {
            var low: Int64 = 0, high: Int64 = 0
            let err = rd_kafka_query_watermark_offsets(client.handle, partition.topic, partition.partition, &low, &high, 1000)
            // An unanswered query (broker away, partition moved) resumes the partition: librdkafka's own
            // fetch path then reports and handles the condition as it does for any partition.
            if err != RD_KAFKA_RESP_ERR_NO_ERROR || high > end { grown.append(partition) }
        }
        resume(grown)
    }

    /// When the assignment has changed since the last call, resumes every paused partition: a pause must
    /// not outlive the assignment it was made in, whether librdkafka keeps it or not. Called after every
    /// poll (rebalances happen inside polls), so an end reported under the new assignment is not undone.
    func follow(assignmentChanges: Int) {
        guard assignmentSeen.withLock({ seen in defer { seen = assignmentChanges }; return seen != assignmentChanges }) else { return }
        resume(Array(paused))
    }

    private func resume(_ partitions: [TopicPartition]) {
        guard !partitions.isEmpty else { return }
        let resumed = apply(rd_kafka_resume_partitions, partitions, "resume after new messages")
        ends.withLock { for p in resumed { $0[p] = nil } }
    }

    /// Runs a pause or resume call; returns the partitions it applied to ("not assigned" counts as applied:
    /// there is nothing left to pause or resume), reporting the others.
    private func apply(_ call: (OpaquePointer?, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) -> rd_kafka_resp_err_t,
                       _ partitions: [TopicPartition], _ operation: String) -> Set<TopicPartition> {
        let list = PartitionList(Dictionary(uniqueKeysWithValues: partitions.map { ($0, Int64(RD_KAFKA_OFFSET_INVALID)) }))
        defer { list.destroy() }
        let err = call(client.handle, list.pointer)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            report(KafkaError(err, "\(operation): \(partitions)"))
            return []
        }
        var applied = Set(partitions)
        for (partition, code) in list.errors() where code != RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION {
            report(KafkaError(code, "\(operation): \(partition)"))
            applied.remove(partition)
        }
        return applied
    }
}
