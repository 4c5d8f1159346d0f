import Engine
import Foundation
import Generator
import Logging
import Metrics
import Models
import SemanticIDs
import Store

/// Codebook rebuilds with model continuity (`RebuildSettings`, `CodebookSuccessor`): the current version
/// serves until a generator trained for the next codebook beats it on the online test.
extension Learner {
    /// Of the newest positives, the share on items the current codebook has no code for.
    var uncodedShare: Double {
        guard recentPositives.count > 0 else { return 0 }
        let uncoded = (0..<recentPositives.count).filter { codebook?.code(of: recentPositives.newest($0)) == nil }.count
        return Double(uncoded) / Double(recentPositives.count)
    }

    /// Starts a rebuild when the uncoded share or the schedule calls for one and none is under way: the
    /// next codebook version is built from the items' vectors as they are now and stored (not current),
    /// and a generator for it starts beside the serving one, sharing its reward model: from the serving
    /// version's weights except those the codebook gives meaning to (`CodebookSuccessor.warmStart`).
    func rebuildIfDue() throws {
        guard let codebook, let models, successor == nil else { return }
        let r = config.rebuild
        let share = uncodedShare
        let byShare = r.uncodedShare > 0 && recentPositives.count >= RebuildSettings.minimumRecent && share > r.uncodedShare
            && feed.sequences.positiveCount >= rebuildAfter
        let bySchedule = r.everyHours > 0 && Date().timeIntervalSince(lastBuild) >= r.everyHours * 3_600
        guard byShare || bySchedule, let (vectors, source) = codebookVectors() else { return }
        let book = try keeper.build(from: vectors, source: source, levels: codebook.levels, seed: config.seed &+ UInt64(codebook.version), current: false)
        lastBuild = Date()
        let trainer = OnlineTrainer(config: config, tokenizer: tokenizer(book), rows: feed.rows, embeddings: feed.embeddings, sharing: models)
        models.withAveragedWeights { CodebookSuccessor.warmStart(trainer.generator.model, from: models.generator.model) }
        trainer.average?.reset()
        successor = CodebookSuccessor(codebook: book, source: source, models: trainer, tests: r.tests)
        logger.info("codebook rebuilt; its generator trains beside the serving one", metadata: [
            "codebook": "\(book.version)", "serving codebook": "\(codebook.version)", "items": "\(book.count)",
            "reason": "\(byShare ? String(format: "%.1f%% of the newest positives on items without a code", share * 100) : "schedule")",
        ])
        publishStatus()
    }

    /// One step of the successor; its servable copy is refreshed as the serving generator's versions are
    /// published, and it takes over once it wins the paired online tests (or is dropped after
    /// `maximumSteps`).
    func train(_ successor: CodebookSuccessor) throws {
        guard let step = try trainingStep(successor.models, codebook: successor.codebook, rewards: false) else { return }
        if step.done % config.publishEverySteps == 0 {
            let info = ModelInfo(version: 0, parent: nil, kind: .trained, codebookVersion: successor.codebook.version, config: successor.models.generator.model.config,
                                 maxHistory: config.maxHistory, sessionItems: config.targetItems, steps: step.done,
                                 metrics: [Self.trainedThrough: Double(feed.watermark)])
            successor.refresh(info: info)
            publishStatus()
        }
        if successor.wins {
            try takeOver(successor)
        } else if step.done >= config.rebuild.maximumSteps {
            self.successor = nil
            feed.sequences.forget(codebook: successor.codebook.version)
            rebuildAfter = feed.sequences.positiveCount + RebuildSettings.minimumRecent
            note("codebook \(successor.codebook.version) dropped after \(step.done) steps: \(describe(successor))", outcome: "dropped")
        }
    }

    /// The successor's codebook becomes current and its generator the one trained and served: its
    /// weight average is published and served at once, and checkpointed.
    private func takeOver(_ successor: CodebookSuccessor) throws {
        let old = codebook?.version
        try keeper.adopt(successor.codebook, source: successor.source)
        if let old { feed.sequences.forget(codebook: old) }
        (models, self.successor, foldedAt) = (successor.models, nil, 0)
        try successor.models.withAveragedWeights {
            try publish(kind: .trained, model: successor.models.generator.model, metrics: ["loss": successor.models.smoothedLoss ?? 0])
        }
        try checkpoint()
        note("codebook \(successor.codebook.version) took over from \(old.map(String.init) ?? "none") after \(successor.models.generator.optimizer.step) steps: "
             + describe(successor), outcome: "took over")
    }

    private func describe(_ successor: CodebookSuccessor) -> String {
        let (s, v) = successor.tally
        return String(format: "HR@10 %.4f against the serving version's %.4f on the newest %d positives tested on both", s.hitRate, v.hitRate, s.tested)
    }

    private func note(_ text: String, outcome: String) {
        logger.info("codebook rebuild: \(text)")
        Counter(label: "onerec_learner_codebook_rebuilds_total", dimensions: [("outcome", outcome)]).increment()
        status.update {
            $0.rebuilds.append(text)
            if $0.rebuilds.count > 10 { $0.rebuilds.removeFirst() }
        }
        publishStatus()
    }
}
