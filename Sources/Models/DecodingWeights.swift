import Engine

/// An immutable copy of the weights the decoder's steps multiply by, transposed to (in, out): with a
/// few rows per step (the beams), that layout multiplies about twice as fast. Take one per model
/// version (serving keeps it as its snapshot); training the model afterwards does not change it.
public final class DecodingWeights: @unchecked Sendable {
    // @unchecked: never mutated after init.
    struct Layer {
        let qkv: Tensor, out: Tensor, crossQ: Tensor, crossOut: Tensor, router: Tensor, w1: Tensor, w2: Tensor
    }
    let layers: [Layer]
    let head: Tensor

    init(_ model: Seq2Seq) {
        let g = Graph(training: false)
        func t(_ w: Tensor) -> Tensor { g.transpose(w, 0, 1) }
        func experts(_ w: Tensor) -> Tensor { g.transpose(w, 1, 2) }
        layers = model.decoder.map { l in
            Layer(qkv: t(l.selfAttention.qkv), out: t(l.selfAttention.out), crossQ: t(l.cross.q), crossOut: t(l.cross.out),
                  router: t(l.moe.router), w1: experts(l.moe.w1), w2: experts(l.moe.w2))
        }
        head = t(model.head)
    }
}

extension Seq2Seq {
    /// A snapshot of the decoder's weights in the decoding layout.
    public func decodingWeights() -> DecodingWeights { DecodingWeights(self) }
}
