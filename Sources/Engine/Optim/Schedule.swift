import Glibc

/// Learning rate as a function of the step (0-based).
public enum LearningRateSchedule: Sendable, Equatable {
    case constant(Float)
    /// Linear warm-up from 0 to `peak` over `warmup` steps, then cosine decay to `peak * floor` at `total`,
    /// constant after that.
    case warmupCosine(peak: Float, warmup: Int, total: Int, floor: Float)

    public func rate(at step: Int) -> Float {
        switch self {
        case let .constant(lr):
            return lr
        case let .warmupCosine(peak, warmup, total, floor):
            if step < warmup { return peak * Float(step + 1) / Float(warmup) }
            let progress = min(1, Float(step - warmup) / Float(max(total - warmup, 1)))
            let cosine = 0.5 * (1 + cosf(.pi * progress))
            return peak * (floor + (1 - floor) * cosine)
        }
    }
}
