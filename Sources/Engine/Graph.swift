import Glibc

/// A tape of the ops of one forward pass, replayed in reverse by `backward`.
///
/// Ops are methods on the graph (files under Ops/). Each records its backward rule when any input needs
/// a gradient; rules accumulate (`+=`) into the inputs' gradients. An op recorded without a rule makes
/// `backward` stop with the op's name if a gradient ever has to pass through it.
public final class Graph {
    struct Node {
        let op: String
        let output: Tensor
        let backward: (() -> Void)?
    }

    private(set) var nodes: [Node] = []
    /// Training mode: dropout is active and rules are recorded. Inference mode records nothing.
    public let training: Bool
    /// Seeded randomness for dropout.
    public var random: SplitMix64

    public init(training: Bool = true, seed: UInt64 = 0) {
        self.training = training
        random = SplitMix64(seed: seed)
    }

    /// Whether an op on `inputs` must record a rule.
    func needsGrad(_ inputs: Tensor...) -> Bool { training && inputs.contains { $0.requiresGrad } }

    /// A fresh output for an op, not zeroed (the op writes every element): it requires a gradient iff
    /// one of its inputs does (in training).
    func output(_ shape: [Int], _ inputs: Tensor...) -> Tensor {
        Tensor(uninitializedShape: shape, requiresGrad: training && inputs.contains { $0.requiresGrad })
    }

    /// Records `op`; `backward` reads `output.grad` and accumulates into the inputs' gradients.
    func record(_ op: String, _ output: Tensor, backward: (() -> Void)?) {
        guard output.requiresGrad else { return }
        nodes.append(Node(op: op, output: output, backward: backward))
    }

    /// Back-propagates from a scalar `loss` (seed 1), or from any tensor with an explicit seed gradient.
    public func backward(_ loss: Tensor, seed: [Float]? = nil) {
        precondition(training, "backward on an inference graph")
        precondition(loss.requiresGrad, "backward from a tensor that depends on no parameter")
        let g = loss.gradBuffer()
        if let seed {
            precondition(seed.count == loss.count, "seed of \(seed.count) for \(loss.count) values")
            for i in 0..<loss.count { g[i] += seed[i] }
        } else {
            precondition(loss.count == 1, "backward from a non-scalar \(loss.shape) needs a seed")
            g[0] += 1
        }
        for node in nodes.reversed() where node.output.grad != nil {
            guard let rule = node.backward else {
                preconditionFailure("no backward rule for op '\(node.op)': a gradient cannot pass through it")
            }
            rule()
        }
        nodes.removeAll()
    }

    /// The ops recorded so far, oldest first (for tests and debugging).
    public var recordedOps: [String] { nodes.map(\.op) }
}

/// A small, fast, seedable generator (Vigna's SplitMix64): every random choice in the engine goes
/// through one, so a seeded run repeats bit for bit.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }

    /// Standard normal (Box-Muller).
    public mutating func nextGaussian() -> Float {
        let u1 = max(nextFloat(), 1e-7)
        let u2 = nextFloat()
        return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
    }
}
