/// Which part of each user's training sequence a model learns from. A model reads at most `length`
/// items (its history) and learns every next item after them, so a sequence of `length + 1` items is
/// one training example.
public enum TrainingWindows: String, Sendable, CaseIterable {
    /// The newest `length + 1` items of each user (SASRec's reference training); older items are unused.
    case newest
    /// The whole sequence, cut newest first into windows of `length + 1` items that overlap by one, so
    /// every item after the first is a target exactly once. An older window reads at most `length` items
    /// of history, like the newest.
    case all

    /// The training examples of `sequence` (oldest first) for a model that reads `length` items.
    public func examples<Item>(of sequence: [Item], length: Int) -> [[Item]] {
        precondition(length >= 1, "a model reads at least one item")
        switch self {
        case .newest:
            return [Array(sequence.suffix(length + 1))]
        case .all:
            var windows: [[Item]] = []
            var end = sequence.count
            while end >= 2 {
                let start = max(0, end - length - 1)
                windows.append(Array(sequence[start..<end]))
                end = start + 1
            }
            return windows
        }
    }
}
