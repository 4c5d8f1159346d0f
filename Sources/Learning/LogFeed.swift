import Alignment
import Events
import Serving
import Store

/// Tails the history store's log in arrival order: item events give the catalog (reward-model rows, content
/// embeddings), positive interactions feed popularity and the users' sequences, and interactions are grouped
/// into sessions. After a restart it reads the log again from the start, so everything comes back in the
/// same order.
final class LogFeed {
    private let history: HistoryStore
    private let popular: PopularItems
    /// Reward-model rows, assigned in catalog order.
    let rows: ItemRows
    /// The sequence number of the last entry read.
    private(set) var watermark: UInt64 = 0
    private var assembler: SessionAssembler
    /// Content embeddings of catalog items, by item id (the latest one sent).
    private(set) var embeddings: [UInt64: [Float]] = [:]
    /// Each user's positives, for sequence training and behaviour vectors.
    var sequences: TrainingSequences

    init(history: HistoryStore, popular: PopularItems, rows: ItemRows, sessionItems: Int, historyCap: Int, sequences: TrainingSequences) {
        (self.history, self.popular, self.rows, self.sequences) = (history, popular, rows, sequences)
        assembler = SessionAssembler(sessionItems: sessionItems, historyCap: historyCap)
    }

    /// Each user's positive items so far, oldest first (capped).
    var histories: [UInt64: [UInt64]] { assembler.histories }
    /// Each user's history items' `TimeGap` buckets, beside `histories`.
    var historyGaps: [UInt64: [Int32]] { assembler.historyGaps }

    /// Reads up to `limit` log entries after the watermark: how many there were, and the sessions they
    /// completed. `test` sees each positive interaction (with its log sequence number) before anything
    /// learns from it: the user's sequence stands as it was just before (popularity as before the batch).
    func read(limit: Int, test: (_ sequence: UInt64, InteractionEvent) -> Void = { _, _ in }) throws -> (entries: Int, sessions: [LoggedSession]) {
        let entries = try history.log(after: watermark, limit: limit)
        guard let last = entries.last else { return (0, []) }
        var interactions: [InteractionEvent] = []
        for (sequence, event) in entries {
            switch event {
            case let .interaction(e):
                interactions.append(e)
                if e.isPositive {
                    test(sequence, e)
                    sequences.append(user: e.userID, item: e.itemID, timeMs: e.timestampMs)
                }
            case let .item(e):
                rows.assign(e.itemID)
                if let v = e.embedding { embeddings[e.itemID] = v }
            }
        }
        popular.observe(interactions.filter(\.isPositive).map(\.itemID))
        watermark = last.sequence
        return (entries.count, assembler.add(interactions))
    }
}
