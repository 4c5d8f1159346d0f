import Alignment
import Engine
import Foundation
import Generator
import Models

/// The trainer's state on disk, in its directory: the generator's weights and moments, tagged with the
/// codebook version its tokens refer to (`generator.safetensors`), and the reward model's
/// (`reward.safetensors`). Written at a cadence and at shutdown, read back at startup.
public struct Checkpointer {
    let directory: String

    init(directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw LearnerError("cannot create the trainer directory \(directory): \(error.localizedDescription)")
        }
        self.directory = directory
    }

    var generatorPath: String { Self.files(in: directory).generator }
    var rewardPath: String { Self.files(in: directory).reward }

    /// The checkpoint's two files in a trainer directory: what a leading train node publishes and a
    /// standby writes back (`ModelTopicWriter.sendCheckpoint`).
    public static func files(in directory: String) -> (generator: String, reward: String) {
        ("\(directory)/generator.safetensors", "\(directory)/reward.safetensors")
    }
    var exists: Bool { FileManager.default.fileExists(atPath: generatorPath) }

    func save(_ trainer: OnlineTrainer, codebookVersion: UInt32, rewardItems: Int) throws {
        try trainer.generator.save(to: generatorPath, metadata: ["codebook": "\(codebookVersion)"])
        try Safetensors.save(trainer.reward.parameters.tensors + trainer.rewardOptimizer.state.tensors,
                             metadata: ["format": "onerec.reward", "step": "\(trainer.rewardOptimizer.step)", "items": "\(rewardItems)"],
                             to: rewardPath)
    }

    /// Resumes `trainer` from the checkpoint; throws when it is damaged or was trained with another
    /// codebook than `codebookVersion`.
    func restore(_ trainer: OnlineTrainer, codebookVersion: UInt32) throws {
        let metadata = try Safetensors.load(generatorPath).metadata
        guard metadata["codebook"] == "\(codebookVersion)" else {
            throw LearnerError("it was trained with codebook \(metadata["codebook"] ?? "?"), the store's is \(codebookVersion)")
        }
        try trainer.generator.resume(from: generatorPath)
        let (rewardTensors, rewardMetadata) = try Safetensors.load(rewardPath)
        guard rewardMetadata["format"] == "onerec.reward", let step = rewardMetadata["step"].flatMap(Int.init) else {
            throw LearnerError("\(rewardPath) is not a reward checkpoint")
        }
        try trainer.reward.parameters.restore(rewardTensors, optimizer: trainer.rewardOptimizer, step: step)
    }
}
