import Engine
import Events
import Glibc

/// A synthetic catalog and population with hidden tastes: the default event source, the source of
/// watch-time, like and follow signals, and the yardstick (true utility) alignment is judged by.
///
/// Items have a hidden topic mixture, a quality and a duration; their content embedding is a noisy
/// random projection of the topics (what a content model would see). Users have a hidden taste over
/// topics that drifts slowly. A user's response to an item depends on its appeal
/// a = quality * cosine(taste, topics), through the documented functions in `expected(user:item:)`.
/// Nothing here is reachable from the events: models see only what users did.
public final class World: @unchecked Sendable {
    // @unchecked: users' tastes drift through `respond`, which callers serialise (one simulation loop).
    public struct Config: Sendable {
        public var items = 2000
        public var users = 1000
        public var topics = 16
        public var embeddingDimension = 32
        /// Items per session (the paper: 5).
        public var sessionItems = 5
        /// How far a taste moves after each session (fraction of a random step).
        public var drift: Float = 0.02
        public var seed: UInt64 = 1
        public init() {}
    }

    public struct Item: Sendable {
        public let id: UInt64
        let topics: [Float]
        let quality: Float
        public let durationMs: Int64
        public let author: UInt64
        public let embedding: [Float]
    }

    public let config: Config
    public let items: [Item]
    private(set) var tastes: [[Float]]
    private var rng: SplitMix64

    public init(config: Config = Config()) {
        self.config = config
        var rng = SplitMix64(seed: config.seed)
        let t = config.topics, d = config.embeddingDimension
        let projection = (0..<(t * d)).map { _ in rng.nextGaussian() / Float(t).squareRoot() }
        items = (0..<config.items).map { i in
            // One dominant topic, a little of another.
            var topics = [Float](repeating: 0, count: t)
            topics[Int(rng.next() % UInt64(t))] += 1
            topics[Int(rng.next() % UInt64(t))] += 0.3 * rng.nextFloat()
            let quality = 0.5 + 0.5 * rng.nextFloat()
            let seconds = min(300, max(5, expf(3.4 + 0.6 * rng.nextGaussian())))
            var embedding = [Float](repeating: 0, count: d)
            for k in 0..<d {
                for j in 0..<t { embedding[k] += projection[j * d + k] * topics[j] }
                embedding[k] += 0.3 * rng.nextGaussian()
            }
            return Item(id: UInt64(i), topics: normalized(topics), quality: quality, durationMs: Int64(seconds * 1000),
                        author: rng.next() % UInt64(max(config.items / 20, 1)), embedding: embedding)
        }
        tastes = (0..<config.users).map { _ in
            var taste = [Float](repeating: 0.02, count: t)
            for _ in 0..<(1 + Int(rng.next() % 3)) { taste[Int(rng.next() % UInt64(t))] += rng.nextFloat() }
            return normalized(taste)
        }
        self.rng = rng
    }

    /// What `user` is expected to do with `item`, from the hidden state:
    /// - watch ratio r = 0.05 + 0.9 sigmoid(8 (a - 0.35))
    /// - like 0.4 sigmoid(10 (a - 0.6)), follow 0.15 sigmoid(10 (a - 0.7)), share 0.1 sigmoid(10 (a - 0.65)),
    ///   collect 0.08 sigmoid(10 (a - 0.6))
    /// - the chance to stop the session after this item 0.05 + 0.5 (1 - r).
    public func expected(user: Int, item: Int) -> Expected {
        let a = appeal(user, item)
        let r = 0.05 + 0.9 * sigmoid(8 * (a - 0.35))
        return Expected(watchRatio: r, like: 0.4 * sigmoid(10 * (a - 0.6)), follow: 0.15 * sigmoid(10 * (a - 0.7)),
                        share: 0.1 * sigmoid(10 * (a - 0.65)), collect: 0.08 * sigmoid(10 * (a - 0.6)), stop: 0.05 + 0.5 * (1 - r))
    }

    public struct Expected: Sendable {
        public let watchRatio, like, follow, share, collect, stop: Float
    }

    /// The exact expected outcome of showing `session` (in order) to `user` now.
    public func utility(user: Int, session: [UInt64]) -> Utility {
        var reach: Float = 1
        var u = Utility()
        for id in session {
            let e = expected(user: user, item: Int(id))
            u.watchTimeMs += Double(reach * e.watchRatio * Float(items[Int(id)].durationMs))
            u.likes += Double(reach * e.like)
            u.follows += Double(reach * e.follow)
            u.shares += Double(reach * e.share)
            u.itemsSeen += Double(reach)
            reach *= 1 - e.stop
        }
        return u
    }

    public struct Utility: Sendable {
        public var watchTimeMs = 0.0, likes = 0.0, follows = 0.0, shares = 0.0, itemsSeen = 0.0
        public init() {}
    }

    /// The user's actual responses to a session, item by item, until they stop; then their taste drifts.
    public func respond(user: Int, session: [UInt64], requestID: String, startMs: Int64, nextEventID: () -> String) -> [InteractionEvent] {
        var events: [InteractionEvent] = []
        var clock = startMs
        for (position, id) in session.enumerated() {
            let e = expected(user: user, item: Int(id))
            let duration = items[Int(id)].durationMs
            let ratio = min(1, max(0, e.watchRatio + 0.1 * rng.nextGaussian()))
            let watch = Int64(ratio * Float(duration))
            clock += max(watch, 500)
            var event = InteractionEvent(eventID: nextEventID(), userID: UInt64(user), itemID: id, timestampMs: clock,
                                         requestID: requestID, position: position, watchTimeMs: watch, durationMs: duration)
            event.like = rng.nextFloat() < e.like
            event.follow = rng.nextFloat() < e.follow
            event.share = rng.nextFloat() < e.share
            event.collect = rng.nextFloat() < e.collect
            event.skip = ratio < 0.1
            events.append(event)
            if rng.nextFloat() < e.stop { break }
        }
        drift(user)
        return events
    }

    /// The `count` items with the highest expected watch time for `user` now (the oracle's choice).
    public func bestItems(user: Int, count: Int, excluding: Set<UInt64> = []) -> [UInt64] {
        var best = TopK<UInt64>(capacity: count)
        for (i, item) in items.enumerated() where !excluding.contains(item.id) {
            let e = expected(user: user, item: i)
            best.offer(e.watchRatio * Float(item.durationMs) / (e.stop + 0.05), item.id)
        }
        return best.sortedDescending().map(\.payload)
    }

    private func appeal(_ user: Int, _ item: Int) -> Float {
        var dot: Float = 0
        let taste = tastes[user], topics = items[item].topics
        for k in 0..<taste.count { dot += taste[k] * topics[k] }
        return items[item].quality * dot
    }

    private func drift(_ user: Int) {
        var taste = tastes[user]
        for k in 0..<taste.count { taste[k] = max(0.001, taste[k] + config.drift * (rng.nextFloat() - 0.5) * 2 * taste[k]) }
        tastes[user] = normalized(taste)
    }
}

func normalized(_ v: [Float]) -> [Float] {
    let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return n > 0 ? v.map { $0 / n } : v
}

func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

extension World.Item {
    /// The item as a catalog event: what a producer would announce (duration, author, content embedding).
    public func event(id eventID: String, timestampMs: Int64) -> ItemEvent {
        var e = ItemEvent(eventID: eventID, itemID: id, timestampMs: timestampMs)
        (e.durationMs, e.authorID, e.embedding) = (durationMs, author, embedding)
        return e
    }
}

extension World {
    /// The whole catalog as item events whose ids are stable for this world (`<prefix>-<seed>-<item>`), so
    /// announcing it again is recognised as a duplicate.
    public func catalog(idPrefix: String, timestampMs: Int64) -> [Event] {
        items.map { Event.item($0.event(id: "\(idPrefix)-\(config.seed)-\($0.id)", timestampMs: timestampMs)) }
    }
}

/// Event ids unique across runs: a prefix, the run's start (ms) and a counter.
public struct EventIDs {
    public let run: Int64
    let prefix: String
    var counter = 0

    public init(prefix: String, run: Int64) { (self.prefix, self.run) = (prefix, run) }

    public mutating func next() -> String {
        counter += 1
        return "\(prefix)-\(run)-\(counter)"
    }
}
