import Foundation
import Alignment
import LMDB

/// Finished alignment rounds and their preference pairs in LMDB (`alignment.rounds`: round id -> JSON;
/// `alignment.pairs`: (round id, pair index) -> JSON), for the status page, audits and the operator's
/// history after restarts.
public struct AlignmentLog: Sendable {
    let environment: Environment
    let db: Database, pairs: Database

    init(environment: Environment) throws {
        self.environment = environment
        db = try environment.openDatabase("alignment.rounds")
        pairs = try environment.openDatabase("alignment.pairs")
    }

    /// The round and the pairs it trained on, in one transaction.
    public func append(_ round: AlignmentRound, pairs roundPairs: [PreferencePair]) throws {
        let encoder = JSONEncoder()
        let json = try encoder.encode(round)
        let encoded = try roundPairs.map { try encoder.encode($0) }
        try environment.write { txn in
            _ = try txn.put(db, KeyBuilder.key(UInt64(round.id)), Array(json))
            for (i, pair) in encoded.enumerated() { _ = try txn.put(pairs, KeyBuilder.key(UInt64(round.id), UInt64(i)), Array(pair)) }
        }
    }

    /// The pairs of one round, in the order they were made.
    public func pairs(round: Int) throws -> [PreferencePair] {
        try environment.read { txn in
            var found: [PreferencePair] = []
            try txn.scan(pairs, from: KeyBuilder.key(UInt64(round)), to: KeyBuilder.key(UInt64(round + 1))) { _, value in
                found.append(try JSONDecoder().decode(PreferencePair.self, from: Data(value)))
                return true
            }
            return found
        }
    }

    /// Every round, oldest first.
    public func all() throws -> [AlignmentRound] {
        try environment.read { txn in
            var found: [AlignmentRound] = []
            try txn.scan(db) { _, value in
                if let round = try? JSONDecoder().decode(AlignmentRound.self, from: Data(value)) { found.append(round) }
                return true
            }
            return found
        }
    }
}
