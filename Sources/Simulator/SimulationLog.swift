import Events

/// Writes a log of the world: the catalog's item events, then `requestsPerUser` sessions for each user
/// under a policy, users taking turns on a simulated clock, events in time order. Everything is seeded:
/// the same world, policy and counts give the same events, byte for byte.
public struct SimulationLog {
    public let world: World
    public var requestsPerUser = 10
    /// The simulated clock starts here (2026-01-01T00:00:00Z).
    public var startMs: Int64 = 1_767_225_600_000
    public init(world: World) { self.world = world }

    /// Calls `emit` with every event in order; returns the policy's mean true utility per session.
    @discardableResult
    public func run<P: Policy>(policy: inout P, emit: (Event) throws -> Void) rethrows -> World.Utility {
        var counter = 0
        func nextID() -> String {
            counter += 1
            return "sim-\(world.config.seed)-\(counter)"
        }
        for item in world.items { try emit(.item(item.event(id: nextID(), timestampMs: startMs))) }
        var seen = [Set<UInt64>](repeating: [], count: world.config.users)
        var clock = startMs
        var total = World.Utility()
        for round in 0..<requestsPerUser {
            for user in 0..<world.config.users {
                clock += 1000
                let session = policy.propose(user: user, count: world.config.sessionItems, seen: seen[user], world: world)
                let u = world.utility(user: user, session: session)
                total.watchTimeMs += u.watchTimeMs
                total.likes += u.likes
                total.follows += u.follows
                total.shares += u.shares
                total.itemsSeen += u.itemsSeen
                let events = world.respond(user: user, session: session, requestID: "u\(user)-r\(round)", startMs: clock, nextEventID: nextID)
                policy.observe(events)
                for e in events {
                    seen[user].insert(e.itemID)
                    try emit(.interaction(e))
                }
            }
        }
        let n = Double(world.config.users * requestsPerUser)
        total.watchTimeMs /= n; total.likes /= n; total.follows /= n; total.shares /= n; total.itemsSeen /= n
        return total
    }
}

extension SimulationLog {
    /// The run's events kept in memory: the interactions in order and each item's content embedding.
    public struct Recording: Sendable {
        public var interactions: [InteractionEvent] = []
        public var embeddings: [UInt64: [Float]] = [:]
        public var utility = World.Utility()
    }

    public func record<P: Policy>(policy: inout P) -> Recording {
        var recording = Recording()
        recording.utility = run(policy: &policy) { event in
            switch event {
            case .interaction(let e): recording.interactions.append(e)
            case .item(let i): recording.embeddings[i.itemID] = i.embedding
            }
        }
        return recording
    }
}
