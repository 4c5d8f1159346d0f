import ArgumentParser
import Events
import Foundation
import Ingest
import Simulator

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The built-in world of users with hidden tastes: logs, policy utilities, load.",
        subcommands: [SimulatePolicies.self, SimulateLog.self, SimulateLoad.self, SimulateLoop.self])
}

/// The world's size, shared by the subcommands.
struct WorldOptions: ParsableArguments {
    @Option(help: "Users.") var users = 1000
    @Option(help: "Items.") var items = 2000
    @Option(help: "Seed.") var seed: UInt64 = 1

    var config: World.Config {
        var c = World.Config()
        c.users = users
        c.items = items
        c.seed = seed
        return c
    }
}

/// `onerec simulate policies`: the true utility of the random, popularity and oracle policies.
struct SimulatePolicies: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "policies", abstract: "True utility per session of the reference policies.")
    @OptionGroup var world: WorldOptions
    @Option(help: "Sessions per user.") var requests = 10

    func run() {
        print("world: \(world.users) users, \(world.items) items, sessions of 5, \(requests) sessions per user, seed \(world.seed)")
        func report<P: Policy>(_ policy: inout P) {
            var sim = SimulationLog(world: World(config: world.config))
            sim.requestsPerUser = requests
            let u = sim.run(policy: &policy) { _ in }
            print(policy.name.padding(toLength: 11, withPad: " ", startingAt: 0)
                + String(format: "expected watch time %6.1f s/session  likes %.3f  follows %.4f  shares %.4f  items seen %.2f",
                         u.watchTimeMs / 1000, u.likes, u.follows, u.shares, u.itemsSeen))
        }
        var random = RandomPolicy(seed: world.seed)
        report(&random)
        var popularity = PopularityPolicy(items: world.items, seed: world.seed)
        report(&popularity)
        var oracle = OraclePolicy()
        report(&oracle)
    }
}

/// `onerec simulate log`: the world's events under a logging policy, to a JSONL file or to Kafka.
struct SimulateLog: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log", abstract: "Write the world's events to a JSONL file or Kafka topics.")
    @OptionGroup var world: WorldOptions
    @Option(help: "Sessions per user.") var requests = 10
    @Option(help: "Logging policy: random, popularity or oracle.") var policy = "popularity"
    @Option(help: "JSONL file to write.") var out: String?
    @Option(help: "Kafka brokers host:port[,...] to produce to.") var brokers: String?
    @Option(help: "Topic of interaction events.") var topic = "onerec.interactions"
    @Option(help: "Topic of item events.") var itemsTopic = "onerec.items"

    func run() throws {
        var sim = SimulationLog(world: World(config: world.config))
        sim.requestsPerUser = requests
        let sink: EventSink
        switch (out, brokers) {
        case let (out?, nil): sink = try EventSink(file: out)
        case let (nil, brokers?): sink = try EventSink(brokers: brokers, topic: topic, itemsTopic: itemsTopic)
        default: throw ValidationError("give exactly one of --out FILE and --brokers HOST:PORT")
        }
        var counts = (items: 0, interactions: 0)
        let emit: (Event) throws -> Void = { event in
            try sink.write(event)
            if case .item = event { counts.items += 1 } else { counts.interactions += 1 }
        }
        let utility: World.Utility
        switch policy {
        case "random": var p = RandomPolicy(seed: world.seed); utility = try sim.run(policy: &p, emit: emit)
        case "popularity": var p = PopularityPolicy(items: world.items, seed: world.seed); utility = try sim.run(policy: &p, emit: emit)
        case "oracle": var p = OraclePolicy(); utility = try sim.run(policy: &p, emit: emit)
        default: throw ValidationError("--policy takes random, popularity or oracle")
        }
        try sink.finish()
        print("wrote \(counts.items) item events and \(counts.interactions) interaction events; \(policy) policy: expected watch time \(String(format: "%.1f", utility.watchTimeMs / 1000)) s/session")
    }
}

/// `onerec simulate load`: produces the world's events to Kafka at a target rate (0: as fast as it can)
/// for a while and reports the rate achieved.
struct SimulateLoad: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "load", abstract: "Produce events to Kafka at a target rate and report the achieved rate.")
    @OptionGroup var world: WorldOptions
    @Option(help: "Kafka brokers host:port[,...].") var brokers: String
    @Option(help: "Topic of interaction events.") var topic = "onerec.interactions"
    @Option(help: "Target events per second (0: as fast as possible).") var rate = 0
    @Option(help: "Seconds to run.") var seconds = 10.0

    func run() throws {
        let sink = try EventSink(brokers: brokers, topic: topic, itemsTopic: topic)
        let world = World(config: world.config)
        var policy = RandomPolicy(seed: self.world.seed)
        var produced = 0
        let start = Date()
        var round = 0
        var counter = 0
        outer: while true {
            for user in 0..<world.config.users {
                let session = policy.propose(user: user, count: world.config.sessionItems, seen: [], world: world)
                let events = world.respond(user: user, session: session, requestID: "load-u\(user)-r\(round)", startMs: Int64(Date().timeIntervalSince1970 * 1000)) {
                    counter += 1
                    return "load-\(counter)"
                }
                for e in events { try sink.write(.interaction(e)) }
                produced += events.count
                let elapsed = Date().timeIntervalSince(start)
                if elapsed >= seconds { break outer }
                if rate > 0 {
                    let ahead = Double(produced) / Double(rate) - elapsed
                    if ahead > 0 { Thread.sleep(forTimeInterval: ahead) }
                }
            }
            round += 1
        }
        try sink.finish()
        let elapsed = Date().timeIntervalSince(start)
        print(String(format: "produced %d events in %.1f s: %.0f events/s (target %@)", produced, elapsed, Double(produced) / elapsed,
                     rate > 0 ? "\(rate)" : "as fast as possible"))
    }
}
