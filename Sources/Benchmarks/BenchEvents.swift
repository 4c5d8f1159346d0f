import ArgumentParser
import Events
import Foundation
import Kafka
import Simulator
import Ingest
import Store

/// `onerec bench events`: what ingest's own work costs per event, without Kafka. The simulator's log (the
/// same as `bench ingest` produces) is validated by `EventDecoder` on one thread, next to Foundation's
/// JSONSerialization parsing the same bytes (a peer that only parses: no field checks, no event made),
/// then stored by `HistoryStore.apply` as ingest stores it (each message's bytes beside its event, the
/// offsets in the same transaction) in transactions of `--batch` events into a fresh store.
struct BenchEvents: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events", abstract: "Validation and store cost per event, next to JSONSerialization.")
    @Option(help: "Users in the world.") var users = 30_000
    @Option(help: "Items in the world.") var items = 2000
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Option(help: "Sessions per user in the log.") var requests = 4
    @Option(help: "Events per store transaction (ingest's default).") var batch = IngestService.Config(kafka: KafkaConfig(brokers: [])).maxBatchMessages
    @Option(help: "Timed runs of each; the median is reported.") var `repeat` = 3

    func run() throws {
        var messages: [[UInt8]] = []
        simulatorLog(users: users, items: items, seed: seed, requests: requests) { messages.append(Array($0.json().utf8)) }
        let bytes = messages.reduce(0) { $0 + $1.count }
        print("\(messages.count) events of the simulator's log, \(bytes / messages.count) bytes each on average")

        let decoder = EventDecoder()
        let now = Date()
        var events: [Event] = []
        let decode = median((0..<self.repeat).map { _ in
            timed { events = messages.map { try! decoder.decode($0, now: now).get() } }
        })
        let parse = median((0..<self.repeat).map { _ in
            timed { for m in messages { _ = try! JSONSerialization.jsonObject(with: Data(m)) } }
        })
        let perEvent = { (seconds: Double) in seconds / Double(messages.count) * 1e6 }
        print(String(format: "EventDecoder (parse and validate) : %.2f us per event (median of %d, one thread)", perEvent(decode), self.repeat))
        print(String(format: "JSONSerialization (parse only)    : %.2f us per event", perEvent(parse)))
        print(String(format: "ratio JSONSerialization / EventDecoder = %.2f", parse / decode))

        let store = median(try (0..<self.repeat).map { _ in try timedStore(events, messages) })
        print(String(format: "HistoryStore.apply                : %.2f us per event (median of %d, %d events per transaction, a fresh store each run)",
                     perEvent(store), self.repeat, batch))
    }

    /// Seconds to store `events` (with their `messages`) in transactions of `batch` into a fresh store
    /// opened as the daemon opens one.
    private func timedStore(_ events: [Event], _ messages: [[UInt8]]) throws -> Double {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onerec-bench-events-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try OpenStore.forWriting(path: dir, mapSizeMiB: 256, holder: "onerec bench").history()
        var all: [UInt8] = [], ends: [Int] = []
        for m in messages {
            all += m
            ends.append(all.count)
        }
        return try all.withUnsafeBytes { all in
            let start = Date()
            for first in stride(from: 0, to: events.count, by: batch) {
                let range = first..<min(events.count, first + batch)
                let part = range.map { i in (events[i], UnsafeRawBufferPointer(rebasing: all[(i == 0 ? 0 : ends[i - 1])..<ends[i]])) }
                try store.apply(part, offsets: ["bench": [0: Int64(range.upperBound)]])
            }
            return Date().timeIntervalSince(start)
        }
    }
}

/// Wall seconds of `body`.
private func timed(_ body: () throws -> Void) rethrows -> Double {
    let start = Date()
    try body()
    return Date().timeIntervalSince(start)
}

private func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// The simulator's log as `bench ingest` and `bench events` use it: the world's catalog, then `requests`
/// sessions per user shown by the popularity policy and answered by the world.
func simulatorLog(users: Int, items: Int, seed: UInt64, requests: Int, emit: (Event) throws -> Void) rethrows {
    var config = World.Config()
    (config.users, config.items, config.seed) = (users, items, seed)
    var log = SimulationLog(world: World(config: config))
    log.requestsPerUser = requests
    var policy = PopularityPolicy(items: items, seed: seed)
    _ = try log.run(policy: &policy, emit: emit)
}
