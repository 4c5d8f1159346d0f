import Events
import Engine
import Foundation
import Ingest
import Logging
import Serving
import ServiceLifecycle
import Simulator
import Store

/// The embedded default event source, in a closed loop: with no Kafka configured, the built-in world's
/// users receive sessions, respond, and their events go through the same validation into the history
/// store as events from Kafka would. A session comes from the daemon's own recommender (what the feed
/// backend would show), or, with probability `exploration` and whenever the recommender has no model
/// yet, from a popularity policy that learns from what users do.
public struct SimulatedTraffic: Service {
    let world: World
    let store: HistoryStore
    let recommender: Recommender?
    let exploration: Double
    let sessionsPerSecond: Double
    let logger: Logger

    public init(world: World, store: HistoryStore, recommender: Recommender? = nil, exploration: Double = 0.3, sessionsPerSecond: Double,
                logger: Logger) {
        precondition(sessionsPerSecond > 0, "simulated traffic needs a positive rate")
        precondition((0...1).contains(exploration), "exploration is a probability")
        self.world = world
        self.store = store
        self.recommender = recommender
        self.exploration = exploration
        self.sessionsPerSecond = sessionsPerSecond
        self.logger = logger
    }

    public func run() async throws {
        let decoder = EventDecoder(embeddingDimension: world.config.embeddingDimension)
        // Ids unique across restarts: the start time is part of each one.
        var ids = EventIDs(prefix: "sim", run: Int64(Date().timeIntervalSince1970 * 1000))
        let run = ids.run
        // The catalog once per item (its event id is stable, so restarts skip it as a duplicate).
        let catalog = world.catalog(idPrefix: "sim-item", timestampMs: run)
        let catalogEvents = validated(catalog, decoder)
        try await store.writing { [store] in try store.apply(catalogEvents, offsets: [:]) }
        var policy = PopularityPolicy(items: world.items.count, seed: world.config.seed)
        var coin = SplitMix64(seed: world.config.seed &+ 99)
        var seen = [Set<UInt64>](repeating: [], count: world.config.users)
        var user = 0
        var sessions = 0
        var failing = false
        let interval = Duration.seconds(1 / sessionsPerSecond)
        logger.info("simulated traffic started", metadata: ["users": "\(world.config.users)", "items": "\(world.items.count)", "sessionsPerSecond": "\(sessionsPerSecond)"])
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var session = policy.propose(user: user, count: world.config.sessionItems, seen: seen[user], world: world)
            // An exploration session is not the daemon's answer: its events count as unmatched.
            var requestID = "sim-\(run)-r\(sessions)"
            if let recommender, Double(coin.next() % 1_000_000) / 1_000_000 >= exploration,
               let served = try? await recommender.recommend(user: UInt64(user), count: world.config.sessionItems),
               served.source == .generator, served.items.count == session.count {
                (session, requestID) = (served.items, served.requestID)
            }
            let events = world.respond(user: user, session: session, requestID: requestID,
                                       startMs: Int64(Date().timeIntervalSince1970 * 1000), nextEventID: { ids.next() })
            policy.observe(events)
            for e in events { seen[user].insert(e.itemID) }
            let checked = validated(events.map(Event.interaction), decoder)
            do {
                try await store.writing { [store] in try store.apply(checked, offsets: [:]) }.joined.count()
                if failing { logger.notice("simulated traffic stores again") }
                failing = false
            } catch {
                // A full disk or store: these synthetic events are dropped (real ones wait in Kafka), serving goes on.
                if !failing { logger.error("simulated traffic cannot store its events; dropping them until it can", metadata: ["reason": "\(error)"]) }
                failing = true
            }
            sessions += 1
            user = (user + 1) % world.config.users
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
        logger.info("simulated traffic stopped", metadata: ["sessions": "\(sessions)"])
    }

    /// Every event passes the decoder that guards Kafka, as JSON, so the embedded source cannot store
    /// what a producer could not. The simulator producing an invalid event is a bug, and traps.
    private func validated(_ events: [Event], _ decoder: EventDecoder) -> [Event] {
        events.map { event in
            switch decoder.decode(Array(event.json().utf8), now: Date().addingTimeInterval(60)) {
            case .success(let e): return e
            case .failure(let reason): preconditionFailure("the simulator produced an invalid event (\(reason)): \(event.json())")
            }
        }
    }
}
