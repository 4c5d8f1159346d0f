import ArgumentParser
import Events
import Client
import Foundation
import Ingest
import Simulator

/// `onerec simulate loop`: the world's users in a closed loop with a running daemon over HTTP, as a feed
/// backend and its event producers would be. The catalog goes in through `POST /v1/events`; then, round
/// after round, each user is shown what `GET /v1/users/{id}/recommendations` returns (a popular session
/// while the daemon has none, or with probability `--exploration`), responds, and the events are posted
/// back (or produced to Kafka with `--brokers`, for a daemon that ingests from there). Each round prints
/// the minute it ended, the true expected watch time of the sessions shown (which only the simulator
/// knows) and the share the daemon's generator served.
struct SimulateLoop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "loop", abstract: "Closed loop with a running daemon over HTTP; true utility per round.")
    @OptionGroup var world: WorldOptions
    @OptionGroup var daemon: DaemonOptions
    @Option(help: "Rounds (every user gets one session per round).") var rounds = 10
    @Option(help: "Share of sessions shown from the popularity policy instead of the daemon.") var exploration = 0.2
    @Option(help: "Users whose events go in one POST.") var usersPerPost = 50
    @Option(help: "Seconds between rounds (the daemon trains meanwhile).") var pause = 5.0
    @Option(help: "Produce the events to these Kafka brokers instead of POSTing them.") var brokers: String?
    @Option(help: "Topic of interaction events (with --brokers).") var topic = "onerec.interactions"
    @Option(help: "Topic of item events (with --brokers).") var itemsTopic = "onerec.items"

    func run() async throws {
        let world = World(config: self.world.config)
        let client = try daemon.client()
        let kafka = try brokers.map { try EventSink(brokers: $0, topic: topic, itemsTopic: itemsTopic) }
        let started = Date()
        var ids = EventIDs(prefix: "loop", run: Int64(Date().timeIntervalSince1970 * 1000))
        let run = ids.run
        let catalog = world.catalog(idPrefix: "loop-item", timestampMs: run)
        for chunk in stride(from: 0, to: catalog.count, by: 1000) {
            try await send(Array(catalog[chunk..<min(catalog.count, chunk + 1000)]), client, kafka)
        }
        print("posted \(catalog.count) catalog items; \(world.config.users) users, \(rounds) rounds, exploration \(exploration)")
        var policy = PopularityPolicy(items: world.items.count, seed: world.config.seed)
        var seen = [Set<UInt64>](repeating: [], count: world.config.users)
        var coin = SystemRandomNumberGenerator()
        for round in 0..<rounds {
            var pending: [Event] = []
            var watch = 0.0, generated = 0
            var versions = Set<Int>()
            for user in 0..<world.config.users {
                var session = policy.propose(user: user, count: world.config.sessionItems, seen: seen[user], world: world)
                if Double.random(in: 0..<1, using: &coin) >= exploration {
                    let answer = try await client.call("GET", "/v1/users/\(user)/recommendations?count=\(world.config.sessionItems)")
                    let items = (answer["items"] as? [Int] ?? []).map(UInt64.init)
                    if answer["source"] as? String == "generator", items.count == session.count {
                        session = items
                        generated += 1
                        if let v = answer["modelVersion"] as? Int { versions.insert(v) }
                    }
                }
                watch += world.utility(user: user, session: session).watchTimeMs / 1000
                let events = world.respond(user: user, session: session, requestID: "loop-\(run)-u\(user)-r\(round)",
                                           startMs: Int64(Date().timeIntervalSince1970 * 1000), nextEventID: { ids.next() })
                policy.observe(events)
                for e in events { seen[user].insert(e.itemID) }
                pending += events.map(Event.interaction)
                if (user + 1) % usersPerPost == 0 || user == world.config.users - 1 {
                    try await send(pending, client, kafka)
                    pending = []
                }
            }
            let users = Double(world.config.users)
            print(String(format: "round %3d (minute %.1f): true expected watch time %.1f s/session, %.0f%% of sessions from the generator (versions %@)",
                         round + 1, Date().timeIntervalSince(started) / 60, watch / users, 100 * Double(generated) / users,
                         versions.isEmpty ? "none" : "\(versions.min()!)-\(versions.max()!)"))
            try await Task.sleep(for: .seconds(pause))
        }
    }

    private func send(_ events: [Event], _ client: DaemonClient, _ kafka: EventSink?) async throws {
        guard !events.isEmpty else { return }
        if let kafka {
            for e in events { try kafka.write(e) }
            return try kafka.flush()
        }
        let body = Data(events.map { $0.json() }.joined(separator: "\n").utf8)
        let outcome = try await client.call("POST", "/v1/events", body: body)
        if let rejected = outcome["rejected"] as? [Any], !rejected.isEmpty {
            throw CommandError("the daemon refused \(rejected.count) simulated events: \(rejected.prefix(3))")
        }
    }
}
