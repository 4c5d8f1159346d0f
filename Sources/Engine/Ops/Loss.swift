import CKernels

extension Graph {
    /// Mean cross-entropy of logits (N, V) against targets (N), fused with log-softmax.
    /// Targets equal to `ignoreIndex` (default -1) count for nothing; `weights` (N) scale rows (a mask
    /// when 0/1); the mean is over the total weight of the counted rows. `labelSmoothing` mixes the
    /// one-hot target with the uniform distribution.
    public func crossEntropy(_ logits: Tensor, targets: [Int32], weights: [Float]? = nil, ignoreIndex: Int32 = -1,
                             labelSmoothing: Float = 0) -> Tensor {
        let (n, v) = (logits.rows, logits.lastDimension)
        precondition(targets.count == n, "crossEntropy: \(targets.count) targets for \(n) rows")
        precondition(weights == nil || weights!.count == n, "crossEntropy: weights must have \(n) entries")
        let kept = targets.map { $0 == ignoreIndex ? Int32(-1) : $0 }
        precondition(kept.allSatisfy { $0 < v }, "crossEntropy: a target is outside [0, \(v))")
        var total: Float = 0
        for r in 0..<n where kept[r] >= 0 { total += weights?[r] ?? 1 }
        let y = output([], logits)
        let probs = Storage(count: logits.count, zeroed: false)  // every row's softmax is written
        let sum = kept.withUnsafeBufferPointer { t in
            withOptional(weights) { w in ok_cross_entropy_forward(probs.data, logits.data, t.baseAddress, w, n, v, labelSmoothing) }
        }
        let denominator = max(total, 1e-12)
        y.data[0] = Float(sum) / denominator
        record("crossEntropy", y) {
            let scale = y.grad![0] / denominator
            kept.withUnsafeBufferPointer { t in
                withOptional(weights) { w in
                    ok_cross_entropy_backward(logits.gradBuffer(), probs.data, t.baseAddress, w, n, v, labelSmoothing, scale)
                }
            }
        }
        return y
    }

    /// Mean binary cross-entropy of logits against labels in [0, 1] (same count), optionally weighted;
    /// the mean is over the total weight.
    public func binaryCrossEntropy(_ logits: Tensor, labels: [Float], weights: [Float]? = nil) -> Tensor {
        let n = logits.count
        precondition(labels.count == n && (weights == nil || weights!.count == n), "binaryCrossEntropy: \(n) logits")
        let denominator = max(weights?.reduce(0, +) ?? Float(n), 1e-12)
        let y = output([], logits)
        let sum = labels.withUnsafeBufferPointer { l in withOptional(weights) { w in ok_bce_logits_forward(logits.data, l.baseAddress, w, n) } }
        y.data[0] = Float(sum) / denominator
        record("binaryCrossEntropy", y) {
            let scale = y.grad![0] / denominator
            labels.withUnsafeBufferPointer { l in
                withOptional(weights) { w in ok_bce_logits_backward(logits.gradBuffer(), logits.data, l.baseAddress, w, n, scale) }
            }
        }
        return y
    }
}

/// Calls `body` with a pointer to `values`, or nil.
func withOptional<R>(_ values: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let values else { return body(nil) }
    return values.withUnsafeBufferPointer { body($0.baseAddress) }
}

extension Graph {
    /// log softmax(logits)[target] for each row: logits (N, V), targets (N) -> (N); a row whose target is
    /// negative gives 0 and no gradient. Backward: dlogits = g (onehot - softmax).
    public func targetLogProbabilities(_ logits: Tensor, targets: [Int32]) -> Tensor {
        let (n, v) = (logits.rows, logits.lastDimension)
        precondition(targets.count == n && targets.allSatisfy { $0 < v }, "targetLogProbabilities: targets for (\(n), \(v))")
        let probs = Storage(count: logits.count, zeroed: false)
        let y = output([n], logits)
        for r in 0..<n {
            let logZ = ok_softmax_row_logsum(probs.data + r * v, logits.data + r * v, v)
            y.data[r] = targets[r] < 0 ? 0 : logits.data[r * v + Int(targets[r])] - logZ
        }
        record("targetLogProbabilities", y) {
            let (dy, dl) = (y.grad!, logits.gradBuffer())
            for r in 0..<n where targets[r] >= 0 {
                let g = dy[r]
                for j in 0..<v { dl[r * v + j] -= g * probs.data[r * v + j] }
                dl[r * v + Int(targets[r])] += g
            }
        }
        return y
    }
}
