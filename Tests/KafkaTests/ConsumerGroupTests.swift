import Kafka
import InMemoryLogging
import Logging
import Testing

@Suite(.serialized) struct ConsumerGroupTests {
    /// Reads batches, storing the offsets of each processed one, until `enough` says stop.
    func consume(_ consumer: KafkaConsumer, into seen: inout [String], until enough: ([String]) -> Bool) async throws {
        let run = Task { try await consumer.run() }
        defer { run.cancel() }
        for try await batch in consumer.batches {
            seen += batch.messages.map { String(decoding: $0.value, as: UTF8.self) }
            try consumer.storeOffsets(batch)
            if enough(seen) { break }
        }
        try consumer.commit()
        consumer.stop()
        try await run.value
    }

    @Test func hundredThousandMessagesResumeExactlyWhereTheGroupStopped() async throws {
        let topic = try TestBroker.topic("resume", partitions: 4)
        let sent = try TestBroker.produce(100_000, to: topic)
        let group = "resume-\(topic)"

        var first: [String] = []
        try await consume(try TestBroker.consumer(group: group, topic: topic, instance: "a"), into: &first) { $0.count >= 40_000 }
        // A restarted member (same static identity) reads on from the stored offsets: nothing twice, nothing lost.
        let second = try TestBroker.consumer(group: group, topic: topic, instance: "a")
        var rest: [String] = []
        try await consume(second, into: &rest) { $0.count + first.count >= 100_000 }

        let all = first + rest
        #expect(all.count == 100_000, "read \(all.count) messages, \(all.count - Set(all).count) of them twice")
        #expect(Set(all) == sent)
        let observer = try TestBroker.consumer(group: group, topic: topic, instance: "observer")
        let committed = try observer.committed((0..<4).map { TopicPartition(topic: topic, partition: $0) })
        #expect(committed.values.reduce(0) { $0 + ($1 ?? 0) } == 100_000)
    }

    /// Polled messages are read where librdkafka holds them; they stay readable after their consumer has
    /// stopped and is gone, and releasing them last (which destroys the client) neither hangs nor crashes.
    @Test func messagesOutliveTheirConsumer() async throws {
        let topic = try TestBroker.topic("outlive", partitions: 2)
        let sent = try TestBroker.produce(500, to: topic)
        var held: [ConsumerMessage] = []
        do {
            let consumer = try TestBroker.consumer(group: "outlive-\(topic)", topic: topic, instance: "a")
            let run = Task { try await consumer.run() }
            for try await batch in consumer.batches {
                held += batch.messages
                if held.count >= 500 { break }
            }
            consumer.stop()
            try await run.value
        }
        #expect(Set(held.map { String(decoding: $0.value, as: UTF8.self) }) == sent)
        #expect(held.allSatisfy { m in m.withUnsafeBytes { Array($0) } == m.value })
        held.removeAll()
    }

    /// Lag: what is left after the position, from the broker's watermarks; none once everything is read.
    @Test func lagShrinksToZeroAsTheConsumerReads() async throws {
        let topic = try TestBroker.topic("lag", partitions: 2)
        _ = try TestBroker.produce(2_000, to: topic)
        let consumer = try TestBroker.consumer(group: "lag-\(topic)", topic: topic, instance: "a")
        let run = Task { try await consumer.run() }
        var read = 0, lags: [Int64] = []
        for try await batch in consumer.batches {
            read += batch.messages.count
            if let lag = try? consumer.lag(), lag.count == 2 { lags.append(lag.values.reduce(0, +)) }
            if read >= 2_000 { break }
        }
        try await waitFor { (try? consumer.lag().values.reduce(0, +)) == 0 }
        consumer.stop()
        try await run.value
        #expect(read == 2_000)
        #expect(!lags.isEmpty && lags.allSatisfy { $0 >= 0 && $0 <= 2_000 })
    }

    /// A partition read to its end is paused (the test broker answers empty fetches at once, so librdkafka
    /// would otherwise fetch in a busy loop) and resumes when more messages arrive.
    @Test func partitionsReadToTheirEndPauseAndResumeWhenMoreArrives() async throws {
        let topic = try TestBroker.topic("idle", partitions: 2)
        _ = try TestBroker.produce(300, to: topic)
        let consumer = try TestBroker.consumer(group: "idle-\(topic)", topic: topic, instance: "a")
        let run = Task { try await consumer.run() }
        var batches = consumer.batches.makeAsyncIterator()
        var read: [String] = []
        while read.count < 300, let batch = try await batches.next() { read += batch.messages.map { String(decoding: $0.value, as: UTF8.self) } }
        try await waitFor { consumer.assignment.count == 2 && consumer.pausedAtEnd == consumer.assignment }

        let more = try TestBroker.produce(40, to: topic)  // values "0"..."39" again
        var after: [String] = []
        while after.count < 40, let batch = try await batches.next() { after += batch.messages.map { String(decoding: $0.value, as: UTF8.self) } }
        try await waitFor { consumer.pausedAtEnd == consumer.assignment }
        consumer.stop()
        try await run.value
        #expect(read.count == 300 && Set(read).count == 300)
        #expect(after.count == 40 && Set(after) == more)
    }

    /// A partition the application starts at its end (its own offsets say everything is stored) is paused
    /// before any message was taken from it; on resume it must go on from there, not from the group's
    /// committed offset (none here: `auto.offset.reset` would read the topic again from the beginning).
    @Test func aPartitionPausedBeforeAnyMessageResumesWhereItStarted() async throws {
        let topic = try TestBroker.topic("idle-start", partitions: 1)
        _ = try TestBroker.produce(100, to: topic)
        var config = KafkaConsumer.Config(kafka: try TestBroker.config(), groupID: "idle-start-\(topic)", topics: [topic])
        config.groupInstanceID = "a"
        let consumer = try KafkaConsumer(config: config, logger: TestBroker.quietLogger) { partitions in
            Dictionary(uniqueKeysWithValues: partitions.map { ($0, 100) })
        }
        let run = Task { try await consumer.run() }
        try await waitFor { consumer.assignment.count == 1 && consumer.pausedAtEnd == consumer.assignment }
        let more = try TestBroker.produce(20, to: topic)  // values "0"..."19" again, at offsets 100...119
        var batches = consumer.batches.makeAsyncIterator()
        var read: [ConsumerMessage] = []
        while read.count < 20, let batch = try await batches.next() { read += batch.messages }
        try await Task.sleep(for: .milliseconds(500))  // anything re-read from the beginning would be here by now
        try await waitFor { consumer.pausedAtEnd == consumer.assignment }
        consumer.stop()
        try await run.value
        #expect(read.map(\.offset) == Array(100..<120))
        #expect(Set(read.map { String(decoding: $0.value, as: UTF8.self) }) == more)
    }

    @Test func twoMembersSharePartitions() async throws {
        let topic = try TestBroker.topic("share", partitions: 4)
        let sent = try TestBroker.produce(4_000, to: topic)
        let group = "share-\(topic)"
        let a = try TestBroker.consumer(group: group, topic: topic, instance: "a")
        let b = try TestBroker.consumer(group: group, topic: topic, instance: "b")

        let seen = SeenValues()
        let runA = Task { try await a.run() }
        let readA = Task { for try await batch in a.batches { await seen.add(batch, by: "a"); try a.storeOffsets(batch) } }
        try await waitFor { a.assignment.count == 4 }
        // Members join one after the other: this broker can stall when two join a new group at once.
        let runB = Task { try await b.run() }
        let readB = Task { for try await batch in b.batches { await seen.add(batch, by: "b"); try b.storeOffsets(batch) } }
        try await waitFor { !a.assignment.isEmpty && !b.assignment.isEmpty && a.assignment.count + b.assignment.count == 4 }
        #expect(a.assignment.isDisjoint(with: b.assignment))
        try await waitFor { await seen.values.count >= sent.count }

        a.stop()
        b.stop()
        try await runA.value
        try await runB.value
        _ = try await (readA.value, readB.value)
        #expect(await seen.values == sent)
    }

    @Test func librdkafkaLogsReachSwiftLog() async throws {
        let topic = try TestBroker.topic("logs", partitions: 1)
        var handler = InMemoryLogHandler()
        handler.logLevel = .debug
        let logger = Logger(label: "kafka-logs") { _ in handler }
        var config = KafkaConsumer.Config(kafka: try TestBroker.config(), groupID: "logs-\(topic)", topics: [topic])
        config.kafka.properties["debug"] = "cgrp"
        let consumer = try KafkaConsumer(config: config, logger: logger)
        let run = Task { try await consumer.run() }
        try await waitFor { consumer.assignment.count == 1 }
        consumer.stop()
        try await run.value
        let fromLibrary = handler.entries.filter { $0.metadata["source"] == "librdkafka" }
        #expect(!fromLibrary.isEmpty)
        #expect(fromLibrary.contains { $0.metadata["facility"] != nil && $0.level == .debug })
    }
}

actor SeenValues {
    var values: Set<String> = []
    var duplicates = 0
    func add(_ batch: ConsumerBatch, by member: String) {
        for m in batch.messages where values.insert(String(decoding: m.value, as: UTF8.self)).inserted == false {
            duplicates += 1
        }
    }
}

/// Polls `condition` every 50 ms for up to `timeout`; fails the test if it never holds.
func waitFor(timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        if ContinuousClock.now > deadline {
            Issue.record("condition not met within \(timeout)")
            throw CancellationError()
        }
        try await Task.sleep(for: .milliseconds(50))
    }
}
