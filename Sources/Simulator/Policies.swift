import Engine
import Events

/// Chooses the session shown to a user: what the logs are written under, and what the learned
/// recommender is compared with.
public protocol Policy {
    var name: String { get }
    /// `count` distinct items for `user`, none of them in `seen`.
    mutating func propose(user: Int, count: Int, seen: Set<UInt64>, world: World) -> [UInt64]
    /// Learns from what happened (popularity counts it; the others ignore it).
    mutating func observe(_ events: [Events.InteractionEvent])
}

extension Policy {
    public mutating func observe(_ events: [Events.InteractionEvent]) {}
}

/// Uniformly random unseen items.
public struct RandomPolicy: Policy {
    public let name = "random"
    var rng: SplitMix64
    public init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    public mutating func propose(user: Int, count: Int, seen: Set<UInt64>, world: World) -> [UInt64] {
        var chosen: [UInt64] = []
        while chosen.count < count {
            let id = UInt64(rng.next() % UInt64(world.items.count))
            if !seen.contains(id) && !chosen.contains(id) { chosen.append(id) }
        }
        return chosen
    }
}

/// The most positively received unseen items so far, counted from the events it observed; with
/// probability `exploration` a slot goes to a random item instead (so new items get a chance).
public struct PopularityPolicy: Policy {
    public let name = "popularity"
    var counts: [Double]
    var random: RandomPolicy
    let exploration: Float

    public init(items: Int, exploration: Float = 0.2, seed: UInt64) {
        counts = [Double](repeating: 0, count: items)
        random = RandomPolicy(seed: seed)
        self.exploration = exploration
    }

    public mutating func propose(user: Int, count: Int, seen: Set<UInt64>, world: World) -> [UInt64] {
        var best = TopK<UInt64>(capacity: count + seen.count)
        for (i, c) in counts.enumerated() { best.offer(Float(c), UInt64(i)) }
        var chosen = Array(best.sortedDescending().map(\.payload).filter { !seen.contains($0) }.prefix(count))
        for slot in chosen.indices where random.rng.nextFloat() < exploration {
            let replacement = random.propose(user: user, count: 1, seen: seen.union(chosen), world: world)[0]
            chosen[slot] = replacement
        }
        return chosen
    }

    public mutating func observe(_ events: [Events.InteractionEvent]) {
        for e in events where e.isPositive { counts[Int(e.itemID)] += 1 }
    }
}

/// The best items for the user's hidden taste: the ceiling no learned policy can pass.
public struct OraclePolicy: Policy {
    public let name = "oracle"
    public init() {}
    public mutating func propose(user: Int, count: Int, seen: Set<UInt64>, world: World) -> [UInt64] {
        world.bestItems(user: user, count: count, excluding: seen)
    }
}
