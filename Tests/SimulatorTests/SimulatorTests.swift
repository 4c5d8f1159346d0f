import Events
import Foundation
import Simulator
import Testing

@Suite struct SimulatorTests {
    static var small: World.Config {
        var c = World.Config()
        c.items = 300
        c.users = 60
        return c
    }

    func log(seed: UInt64, requests: Int = 3) -> [String] {
        var config = Self.small
        config.seed = seed
        var sim = SimulationLog(world: World(config: config))
        sim.requestsPerUser = requests
        var policy = RandomPolicy(seed: seed)
        var lines: [String] = []
        sim.run(policy: &policy) { lines.append($0.json()) }
        return lines
    }

    @Test func theSameSeedWritesTheSameLogByteForByte() {
        let a = log(seed: 4), b = log(seed: 4)
        #expect(a == b)
        #expect(a != log(seed: 5))
        #expect(a.count > 300)
    }

    @Test func everyEmittedEventPassesValidation() {
        let decoder = EventDecoder(embeddingDimension: 32)
        let now = Date(timeIntervalSince1970: 1_767_225_600 + 86_400)
        var interactions = 0
        for line in log(seed: 2) {
            switch decoder.decode(Array(line.utf8), now: now) {
            case .success(let event):
                #expect(event.json() == line)
                if case .interaction = event { interactions += 1 }
            case .failure(let reason):
                Issue.record("rejected \(reason): \(line.prefix(120))")
            }
        }
        #expect(interactions > 0)
    }

    @Test func theOracleSessionBeatsARandomOneForEverySampledUser() {
        let world = World(config: Self.small)
        var random = RandomPolicy(seed: 9)
        for user in 0..<world.config.users {
            let oracle = world.bestItems(user: user, count: 5)
            let other = random.propose(user: user, count: 5, seen: [], world: world)
            #expect(world.utility(user: user, session: oracle).watchTimeMs > world.utility(user: user, session: other).watchTimeMs)
        }
    }

    @Test func policiesRankAsExpected() {
        // Each policy on a fresh copy of the same world.
        func run<P: Policy>(_ policy: inout P) -> World.Utility {
            var sim = SimulationLog(world: World(config: Self.small))
            sim.requestsPerUser = 6
            return sim.run(policy: &policy) { _ in }
        }
        var random = RandomPolicy(seed: 1)
        let r = run(&random)
        var popularity = PopularityPolicy(items: Self.small.items, seed: 1)
        let p = run(&popularity)
        var oracle = OraclePolicy()
        let o = run(&oracle)
        #expect(o.watchTimeMs > p.watchTimeMs && p.watchTimeMs > r.watchTimeMs, "oracle \(o.watchTimeMs) popularity \(p.watchTimeMs) random \(r.watchTimeMs)")
        #expect(o.likes > r.likes)
    }
}
