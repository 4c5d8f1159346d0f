import Glibc
import CKernels

/// AdamW with decoupled weight decay, global-norm gradient clipping and two parameter groups.
///
/// Bias correction: the moments are divided by (1 - beta^t) at step t, as in Adam's paper and PyTorch,
/// so early steps are not shrunk towards zero. Weight decay applies to matrices (rank >= 2) only; norms'
/// weights, biases and other vectors are not decayed (nanoGPT's grouping).
public final class AdamW {
    public struct Config: Sendable {
        /// Step size. Default 2e-4, the OneRec paper's.
        public var learningRate: Float = 2e-4
        public var beta1: Float = 0.9
        public var beta2: Float = 0.999
        public var eps: Float = 1e-8
        /// Decoupled decay on matrices. Default 0.01.
        public var weightDecay: Float = 0.01
        /// Rescale gradients so their global L2 norm is at most this. nil: no clipping. Default 1.
        public var clipNorm: Float? = 1
        public init() {}
    }

    public let parameters: [Tensor]
    public var config: Config
    /// Steps taken.
    public private(set) var step = 0
    let m: [Tensor]
    let v: [Tensor]

    public init(parameters: [Tensor], config: Config = Config()) {
        precondition(parameters.allSatisfy(\.requiresGrad), "AdamW: every parameter must require a gradient")
        self.parameters = parameters
        self.config = config
        m = parameters.map { Tensor(shape: $0.shape, name: $0.name.map { "adamw.m.\($0)" }) }
        v = parameters.map { Tensor(shape: $0.shape, name: $0.name.map { "adamw.v.\($0)" }) }
    }

    /// Whether `p` is decayed: matrices yes, vectors (norm weights, biases) no.
    public static func decays(_ p: Tensor) -> Bool { p.shape.count >= 2 }

    /// The global L2 norm of the current gradients.
    public func gradientNorm() -> Float {
        var total = 0.0
        for p in parameters { if let g = p.grad { total += ok_sum_squares(g, p.count) } }
        return Float(total.squareRoot())
    }

    /// One update from the accumulated gradients (parameters without a gradient are left alone), at
    /// `learningRate` (default: the config's). Returns the gradient norm before clipping.
    @discardableResult
    public func update(learningRate: Float? = nil) -> Float {
        step += 1
        let norm = gradientNorm()
        let scale = config.clipNorm.map { norm > $0 ? $0 / (norm + 1e-6) : 1 } ?? 1
        let lr = learningRate ?? config.learningRate
        let b1c = 1 - powf(config.beta1, Float(step))
        let b2c = 1 - powf(config.beta2, Float(step))
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            let wd = Self.decays(p) ? config.weightDecay : 0
            ok_adamw_step(p.data, g, m[i].data, v[i].data, p.count, lr, config.beta1, config.beta2, config.eps, wd, b1c, b2c, scale)
        }
        return norm
    }

    /// Zeroes every parameter's gradient.
    public func zeroGradients() {
        for p in parameters { p.zeroGrad() }
    }

    /// The optimiser's state as named tensors (for checkpoints) and the step count.
    public var state: (step: Int, tensors: [Tensor]) { (step, m + v) }

    /// Throws unless `tensors` hold every moment with its shape.
    public func check(_ tensors: [String: Tensor]) throws(CheckpointError) {
        for t in m + v {
            guard let name = t.name, let saved = tensors[name] else { throw CheckpointError("optimiser state has no \(t.name ?? "unnamed tensor")") }
            guard saved.shape == t.shape else { throw CheckpointError("optimiser state \(name) has shape \(saved.shape), expected \(t.shape)") }
        }
    }

    /// Restores moments and step from a checkpoint's tensors (matched by name); all or nothing.
    public func restore(step: Int, tensors: [String: Tensor]) throws(CheckpointError) {
        try check(tensors)
        for t in m + v { t.data.update(from: tensors[t.name!]!.data, count: t.count) }
        self.step = step
    }
}
