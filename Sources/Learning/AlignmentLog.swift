import Foundation
import LMDB

/// Finished alignment rounds in LMDB (`alignment.rounds`: round id -> JSON), for the status page and
/// the operator's history after restarts.
struct AlignmentLog {
    let environment: Environment
    let db: Database

    init(environment: Environment) throws {
        self.environment = environment
        db = try environment.openDatabase("alignment.rounds")
    }

    func append(_ round: AlignmentRound) throws {
        let json = try JSONEncoder().encode(round)
        try environment.write { txn in _ = try txn.put(db, KeyBuilder.key(UInt64(round.id)), Array(json)) }
    }

    /// Every round, oldest first.
    func all() throws -> [AlignmentRound] {
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
