import Synchronization

/// A dense Float32 tensor: contiguous, row-major, with a shape. Its gradient (same shape) is allocated,
/// zeroed, the first time a backward rule accumulates into it.
///
/// Memory is owned by the tensor and freed with it. Views (`reshaped`) share the storage of the tensor
/// they come from.
public final class Tensor: @unchecked Sendable {
    // @unchecked: a tensor is mutated by one training or inference step at a time (the graph that owns
    // the step); sharing across tasks goes through immutable snapshots (model weights while serving).
    public let shape: [Int]
    public let count: Int
    let storage: Storage
    public var data: UnsafeMutablePointer<Float> { storage.data }
    /// Set on parameters and on every op output that depends on one.
    public let requiresGrad: Bool
    /// Parameter name (checkpoints, weight decay groups); nil for activations.
    public var name: String?
    private var gradStorage: Storage?

    public init(shape: [Int], requiresGrad: Bool = false, name: String? = nil) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        count = shape.reduce(1, *)
        storage = Storage(count: count)
        self.requiresGrad = requiresGrad
        self.name = name
    }

    public convenience init(shape: [Int], values: [Float], requiresGrad: Bool = false, name: String? = nil) {
        self.init(shape: shape, requiresGrad: requiresGrad, name: name)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    /// An op's output: every element is written by the op, so the buffer is not zeroed first.
    init(uninitializedShape shape: [Int], requiresGrad: Bool) {
        self.shape = shape
        count = shape.reduce(1, *)
        storage = Storage(count: count, zeroed: false)
        self.requiresGrad = requiresGrad
    }

    /// A tensor of `shape` over `storage` (a view).
    init(shape: [Int], storage: Storage, requiresGrad: Bool) {
        let count = shape.reduce(1, *)
        precondition(count <= storage.count, "view of \(count) over \(storage.count) floats")
        self.shape = shape
        self.count = count
        self.storage = storage
        self.requiresGrad = requiresGrad
    }

    /// The values as an array (a copy).
    public var values: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// The gradient, or nil if nothing has flowed into it.
    public var grad: UnsafeMutablePointer<Float>? { gradStorage?.data }

    /// The gradient buffer, allocated and zeroed on first use.
    public func gradBuffer() -> UnsafeMutablePointer<Float> {
        if let gradStorage { return gradStorage.data }
        let s = Storage(count: count)
        gradStorage = s
        return s.data
    }

    /// The gradient as an array (zeros if none).
    public var gradValues: [Float] {
        guard let grad else { return [Float](repeating: 0, count: count) }
        return Array(UnsafeBufferPointer(start: grad, count: count))
    }

    /// Forgets the gradient (the next backward starts from zero).
    public func zeroGrad() { gradStorage.map { $0.data.update(repeating: 0, count: count) } }

    /// Drops the gradient buffer entirely.
    public func releaseGrad() { gradStorage = nil }

    public func fill(_ value: Float) { data.update(repeating: value, count: count) }

    /// Rows x columns when the last dimension is the row length.
    public var rows: Int { shape.isEmpty ? 1 : count / max(shape[shape.count - 1], 1) }
    public var lastDimension: Int { shape.last ?? 1 }

    public subscript(index: Int) -> Float {
        get { data[index] }
        set { data[index] = newValue }
    }
}

/// A 64-byte-aligned float buffer, zeroed unless asked not to be, recycled through `BufferPool`.
final class Storage: @unchecked Sendable {
    // @unchecked: see Tensor.
    let data: UnsafeMutablePointer<Float>
    let count: Int
    /// Floats allocated (`count` or more: see `BufferPool`).
    private let capacity: Int

    init(count: Int, zeroed: Bool = true) {
        self.count = count
        (data, capacity) = BufferPool.shared.take(count)
        if zeroed { data.update(repeating: 0, count: max(count, 1)) }
    }

    deinit { BufferPool.shared.give(data, capacity: capacity) }
}
