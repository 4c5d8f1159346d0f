import Engine

/// OneRec's generator: a decoder whose blocks are causal self-attention over the session's tokens,
/// cross-attention to the user's context and a sparse mixture-of-experts feed-forward; pre-norm RMSNorm,
/// relative position bias shared across layers, no biases. Two ways to make the context:
/// - `.encoderDecoder` (V1, T5-style): the history's tokens (L codes and a [SEP] per item) pass through a
///   stack of bidirectional encoder layers; each decoder layer projects the encoder's output to its own
///   keys and values.
/// - `.lazy` (V2's lazy decoder-only): no encoder. Each history item is embedded once, as the sum of its
///   code-token embeddings, its item-ID embedding (items the tokenizer gives an ID row; others the shared
///   cold row) and a position embedding; one key/value projection of that context is shared by every
///   decoder layer. A history item costs one context position instead of L + 1 encoder tokens. With
///   `encoderLayers` > 0 the item positions first pass through that many causal self-attention layers
///   (V2 has none: its context is embedded once; here they let history items read each other, as
///   SASRec's do, at one token per item).
public final class Seq2Seq {
    public enum Architecture: String, Sendable, Codable, CaseIterable {
        case encoderDecoder = "encoder-decoder"
        case lazy
    }

    public struct Config: Sendable, Equatable, Codable {
        /// How the context is made (see the type's comment). Default `.encoderDecoder`.
        public var architecture = Architecture.encoderDecoder
        /// Token vocabulary (semantic-ID codes of every level plus special tokens).
        public var vocabulary = 776
        /// Model width.
        public var width = 128
        public var heads = 4
        /// Layers over the history: encoder-decoder, bidirectional encoder layers over its tokens; lazy,
        /// causal self-attention layers over its item positions (0, V2's lazy decoder: none).
        public var encoderLayers = 2
        public var decoderLayers = 2
        /// Hidden width of the encoder's dense feed-forwards and of each decoder expert.
        public var feedForward = 512
        /// Experts per decoder layer (the paper: 24).
        public var experts = 4
        /// Experts each token uses (the paper: 2).
        public var topK = 2
        /// Weight of the decoder's load-balancing loss in the training loss.
        public var balanceWeight: Float = 0.01
        /// Relative position buckets and the distance where they stop growing (T5's defaults).
        public var positionBuckets = 32
        public var maxDistance = 128
        public var dropout: Float = 0
        /// Lazy, training only: the share of history items read without their item-ID row (as a cold
        /// item is), so the model keeps reading codes and an item it has barely seen still reads well.
        public var itemDropout: Float = 0
        /// Lazy only: code tokens per history item (the codebook's levels).
        public var levels = 3
        /// Lazy only: the longest context, in history items (rows of the position embedding).
        public var contextLength = 256
        /// Lazy only: rows of the item-ID embedding, the cold row 0 included (0: no item IDs, codes alone).
        public var itemVocabulary = 0
        /// The output head is the token embedding (tied, T5-style), so a code scores by the same vector it
        /// is read as in the context and the decoder's inputs. Default false: a head of its own.
        public var tiedHead = false
        /// Lazy only: every decoder token adds the context's newest item (for sequence training's block n,
        /// item n), so queries depend on the user from the first code on; without it the first code's
        /// query is the same for everyone and the context is only pooled. Default false.
        public var newestItemQuery = false
        /// Lazy only: the decoder's cross-attention adds a learned per-head bias by how far back each
        /// context item is from the query's newest item (T5's buckets, out to `contextLength`), so recency
        /// need not be read from the position embeddings. Default false.
        public var recencyBias = false
        /// Lazy only: each context item adds a learned embedding of its gap to the item before it
        /// (`TimeGap`'s buckets), so the context reads bursts and returns. Callers then give each history
        /// item's bucket. Default false.
        public var timeGaps = false
        public init() {}

        // Records written before `architecture` existed decode as encoder-decoders.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            architecture = try c.decodeIfPresent(Architecture.self, forKey: .architecture) ?? .encoderDecoder
            vocabulary = try c.decode(Int.self, forKey: .vocabulary)
            width = try c.decode(Int.self, forKey: .width)
            heads = try c.decode(Int.self, forKey: .heads)
            encoderLayers = try c.decode(Int.self, forKey: .encoderLayers)
            decoderLayers = try c.decode(Int.self, forKey: .decoderLayers)
            feedForward = try c.decode(Int.self, forKey: .feedForward)
            experts = try c.decode(Int.self, forKey: .experts)
            topK = try c.decode(Int.self, forKey: .topK)
            balanceWeight = try c.decode(Float.self, forKey: .balanceWeight)
            positionBuckets = try c.decode(Int.self, forKey: .positionBuckets)
            maxDistance = try c.decode(Int.self, forKey: .maxDistance)
            dropout = try c.decode(Float.self, forKey: .dropout)
            itemDropout = try c.decodeIfPresent(Float.self, forKey: .itemDropout) ?? 0
            levels = try c.decodeIfPresent(Int.self, forKey: .levels) ?? 3
            contextLength = try c.decodeIfPresent(Int.self, forKey: .contextLength) ?? 256
            itemVocabulary = try c.decodeIfPresent(Int.self, forKey: .itemVocabulary) ?? 0
            tiedHead = try c.decodeIfPresent(Bool.self, forKey: .tiedHead) ?? false
            newestItemQuery = try c.decodeIfPresent(Bool.self, forKey: .newestItemQuery) ?? false
            recencyBias = try c.decodeIfPresent(Bool.self, forKey: .recencyBias) ?? false
            timeGaps = try c.decodeIfPresent(Bool.self, forKey: .timeGaps) ?? false
        }

        /// The checkpoint's shape string: a checkpoint resumes only into a model of the same shape.
        public var shape: String {
            let base = "\(vocabulary),\(width),\(heads),\(encoderLayers),\(decoderLayers),\(feedForward),\(experts),\(topK)"
            let shape = architecture == .lazy ? "lazy,\(base),\(levels),\(contextLength),\(itemVocabulary)" : base
            return shape + (tiedHead ? ",tied" : "") + (newestItemQuery ? ",newest" : "") + (recencyBias ? ",recency" : "") + (timeGaps ? ",gaps" : "")
        }

        /// Named sizes: `tiny` (tests), `small` (the CPU default: the reference model), `base`.
        public static func preset(_ name: String) -> Config? {
            var c = Config()
            switch name {
            case "tiny":
                (c.width, c.heads, c.encoderLayers, c.decoderLayers, c.feedForward, c.experts) = (32, 2, 1, 1, 64, 4)
            case "small":
                break
            case "base":
                (c.width, c.heads, c.encoderLayers, c.decoderLayers, c.feedForward, c.experts) = (256, 8, 4, 4, 1024, 8)
            default:
                return nil
            }
            return c
        }

        /// A preset with an architecture: the lazy model has no layers over its context (V2's design), its
        /// tokens add the newest context item (`newestItemQuery`) and its cross-attention a recency bias
        /// (`recencyBias`).
        public static func preset(_ name: String, architecture: Architecture) -> Config? {
            guard var c = preset(name) else { return nil }
            c.architecture = architecture
            if architecture == .lazy { (c.encoderLayers, c.newestItemQuery, c.recencyBias) = (0, true, true) }
            return c
        }
    }

    public let config: Config
    public let parameters: ParameterStore
    let embedding: Tensor
    /// Encoder-decoder only (nil in a lazy decoder, which has no encoder).
    let encoderBias: Tensor?
    let decoderBias: Tensor
    /// Encoder-decoder: the encoder's layers; lazy: the context's causal layers (`encoderLayers` of each).
    let encoder: [(norm1: Tensor, attention: SelfAttention, norm2: Tensor, ffn: FeedForward)]
    let encoderNorm: Tensor
    /// Lazy only: item-ID rows (`itemVocabulary`, row 0 the cold items') and context positions.
    let itemEmbedding: Tensor?, contextPosition: Tensor?
    /// Lazy only: the context's key/value projection (2D, D), shared by every decoder layer.
    let contextKV: Tensor?
    /// Lazy with `timeGaps`: the gap embedding (`TimeGap.buckets`, D).
    let gapEmbedding: Tensor?
    /// Lazy with `recencyBias`: the cross-attention's (buckets, H) bias table, shared by every decoder layer.
    let recencyTable: Tensor?
    let decoder: [(norm1: Tensor, selfAttention: SelfAttention, norm2: Tensor, cross: CrossAttention, norm3: Tensor, moe: MoEFeedForward)]
    let decoderNorm: Tensor
    let head: Tensor

    public init(config: Config, seed: UInt64) {
        self.config = config
        let p = ParameterStore(seed: seed)
        let d = config.width
        embedding = p.normal("embedding", [config.vocabulary, d], std: 1)
        let lazy = config.architecture == .lazy
        encoderBias = lazy ? nil : p.normal("encoder.position_bias", [config.positionBuckets, config.heads], std: 0.1)
        decoderBias = p.normal("decoder.position_bias", [config.positionBuckets, config.heads], std: 0.1)
        let stack = lazy ? "context" : "encoder"
        encoder = (0..<config.encoderLayers).map { i in
            (p.constant("\(stack).\(i).norm1", [d], 1), SelfAttention(p, "\(stack).\(i).attention", width: d, heads: config.heads),
             p.constant("\(stack).\(i).norm2", [d], 1), FeedForward(p, "\(stack).\(i).ffn", width: d, hidden: config.feedForward))
        }
        encoderNorm = p.constant("encoder.norm", [d], 1)  // the lazy context's final norm too
        precondition(lazy || config.itemVocabulary == 0, "item-ID embeddings are the lazy decoder's")
        precondition(lazy || !config.newestItemQuery, "the newest-item query is the lazy decoder's")
        precondition(lazy || !config.recencyBias, "the recency bias is the lazy decoder's")
        precondition(lazy || !config.timeGaps, "time gaps are the lazy decoder's")
        // Item-ID rows start at zero: an item the model has not learned yet is its codes alone.
        itemEmbedding = lazy && config.itemVocabulary > 0 ? p.constant("context.items", [config.itemVocabulary, d], 0) : nil
        contextPosition = lazy ? p.normal("context.positions", [config.contextLength, d], std: 0.1) : nil
        gapEmbedding = config.timeGaps ? p.normal("context.gaps", [TimeGap.buckets, d], std: 0.1) : nil
        contextKV = lazy ? p.normal("context.kv", [2 * d, d], std: Float(d).squareRoot().reciprocal) : nil
        recencyTable = config.recencyBias ? p.normal("context.recency_bias", [config.positionBuckets, config.heads], std: 0.1) : nil
        let routing = Routing(topK: config.topK)
        decoder = (0..<config.decoderLayers).map { i in
            (p.constant("decoder.\(i).norm1", [d], 1), SelfAttention(p, "decoder.\(i).self_attention", width: d, heads: config.heads),
             p.constant("decoder.\(i).norm2", [d], 1),
             CrossAttention(p, "decoder.\(i).cross_attention", width: d, heads: config.heads, keysValues: !lazy),
             p.constant("decoder.\(i).norm3", [d], 1),
             MoEFeedForward(p, "decoder.\(i).moe", width: d, hidden: config.feedForward, experts: config.experts, routing: routing))
        }
        // Tied, the final norm starts at 1/sqrt(D): logits of unit-variance embeddings start at unit scale.
        decoderNorm = p.constant("decoder.norm", [d], config.tiedHead ? Float(d).squareRoot().reciprocal : 1)
        head = config.tiedHead ? embedding : p.normal("head", [config.vocabulary, d], std: Float(d).squareRoot().reciprocal)
        parameters = p
    }

    /// A batch: B encoder sequences of Te tokens (with a validity mask for padding) and B decoder
    /// sequences of Td input tokens (teacher forcing) with their targets (-1: no loss).
    public struct Batch: Sendable {
        public var batch: Int, encoderLength: Int, decoderLength: Int
        public var encoderTokens: [Int32]
        public var encoderValid: [UInt8]
        public var decoderInputs: [Int32]
        public var targets: [Int32]
        /// For a model with `timeGaps`: each context position's `TimeGap` bucket (B * encoderLength / (L + 1)).
        public var encoderGaps: [Int32]?
        public init(batch: Int, encoderLength: Int, decoderLength: Int, encoderTokens: [Int32], encoderValid: [UInt8],
                    decoderInputs: [Int32], targets: [Int32], encoderGaps: [Int32]? = nil) {
            precondition(encoderTokens.count == batch * encoderLength && encoderValid.count == encoderTokens.count)
            precondition(decoderInputs.count == batch * decoderLength && targets.count == decoderInputs.count)
            (self.batch, self.encoderLength, self.decoderLength) = (batch, encoderLength, decoderLength)
            (self.encoderTokens, self.encoderValid, self.decoderInputs, self.targets) = (encoderTokens, encoderValid, decoderInputs, targets)
            self.encoderGaps = encoderGaps
        }
    }

    /// The context the decoder attends to: (B, Tc, D) and its validity mask (B * Tc), from the history's
    /// tokens (B, Te) and their mask. Encoder-decoder: the encoder's output over the tokens (Tc = Te).
    /// Lazy: one position per history item (Tc = Te / (L + 1)); `gaps` holds each position's `TimeGap`
    /// bucket (B * Tc, padding's anything), which a model with `timeGaps` needs and any other ignores.
    public func context(_ g: Graph, tokens: [Int32], valid: [UInt8], batch: Int, length: Int, gaps: [Int32]? = nil) -> (memory: Tensor, valid: [UInt8]) {
        guard config.architecture == .lazy else { return (encode(g, tokens: tokens, valid: valid, batch: batch, length: length), valid) }
        return lazyContext(g, tokens: tokens, valid: valid, batch: batch, length: length, gaps: gaps)
    }

    /// Per layer, the keys and values (B, Tc, D) each that the decoder's cross-attention reads. Lazy: one
    /// projection, the same for every layer.
    func contextKeysValues(_ g: Graph, memory: Tensor) -> [(k: Tensor, v: Tensor)] {
        if let contextKV {
            let kv = CrossAttention.keysValues(g, memory: memory, projection: contextKV)
            return decoder.map { _ in kv }
        }
        return decoder.map { $0.cross.keysValues(g, memory: memory) }
    }

    /// The lazy context: history tokens (B, Te) are items of L code tokens and one item token each (an
    /// item-ID token `vocabulary + row`, or [SEP] for an item without one), newest last; item i of a row
    /// becomes sum_l E[code_l] + I[row] + P[Tc_max - Tc + i] (+ G[gap_i] with `timeGaps`), then passes
    /// through the causal context layers.
    func lazyContext(_ g: Graph, tokens: [Int32], valid: [UInt8], batch: Int, length: Int, gaps: [Int32]?) -> (memory: Tensor, valid: [UInt8]) {
        let group = config.levels + 1
        precondition(length % group == 0, "a lazy context takes \(group) tokens per history item, not \(length) tokens")
        let items = length / group
        precondition(items <= config.contextLength, "a context of \(items) items > contextLength \(config.contextLength)")
        let positions = batch * items
        var x: Tensor?
        for level in 0..<config.levels {
            let codes = (0..<positions).map { tokens[$0 * group + level] }
            let e = g.embedding(embedding, codes, shape: [batch, items])
            x = x.map { g.add($0, e) } ?? e
        }
        var sum = x!
        if let itemEmbedding {
            let rows = (0..<positions).map { p -> Int32 in
                let t = tokens[p * group + config.levels]
                let row = t >= Int32(config.vocabulary) ? t - Int32(config.vocabulary) : 0
                return row > 0 && g.training && config.itemDropout > 0 && g.random.nextFloat() < config.itemDropout ? 0 : row
            }
            sum = g.add(sum, g.embedding(itemEmbedding, rows, shape: [batch, items]))
        }
        let at = (0..<batch).flatMap { _ in (0..<items).map { Int32(config.contextLength - items + $0) } }
        sum = g.add(sum, g.embedding(contextPosition!, at, shape: [batch, items]))
        if let gapEmbedding {
            guard let gaps else { preconditionFailure("a model with time gaps needs each history item's gap") }
            precondition(gaps.count == positions && gaps.allSatisfy { (0..<Int32(TimeGap.buckets)).contains($0) }, "one gap bucket per context item")
            sum = g.add(sum, g.embedding(gapEmbedding, gaps, shape: [batch, items]))
        }
        let itemValid = (0..<positions).map { valid[$0 * group] }
        // Causal: item n's state reads items 0...n only, which sequence training's blocks rely on.
        let mixed = layers(g, g.dropout(sum, config.dropout), mask: AttentionMask(causal: true, keyValid: itemValid), bias: nil)
        return (g.rmsNorm(mixed, weight: encoderNorm), itemValid)
    }

    /// The encoder's output (B, Te, D).
    public func encode(_ g: Graph, tokens: [Int32], valid: [UInt8], batch: Int, length: Int) -> Tensor {
        guard let encoderBias else { preconditionFailure("a lazy decoder has no encoder: use context(_:tokens:valid:batch:length:)") }
        let x = g.dropout(g.embedding(embedding, tokens, shape: [batch, length]), config.dropout)
        let buckets = relativePositionBuckets(queries: length, keys: length, bidirectional: true,
                                              buckets: config.positionBuckets, maxDistance: config.maxDistance)
        let bias = g.relativePositionBias(encoderBias, buckets: buckets, queries: length, keys: length)
        return g.rmsNorm(layers(g, x, mask: AttentionMask(keyValid: valid), bias: bias), weight: encoderNorm)
    }

    /// x (B, T, D) through the encoder's (or the lazy context's) pre-norm layers.
    private func layers(_ g: Graph, _ input: Tensor, mask: AttentionMask, bias: Tensor?) -> Tensor {
        var x = input
        for layer in encoder {
            x = g.add(x, g.dropout(layer.attention(g, g.rmsNorm(x, weight: layer.norm1), mask: mask, bias: bias), config.dropout))
            x = g.add(x, g.dropout(layer.ffn(g, g.rmsNorm(x, weight: layer.norm2)), config.dropout))
        }
        return x
    }

    /// Logits (B * blocks, Td, V) for every decoder position, and the summed balance loss of the MoE layers.
    /// With `blocks` = 1 each row's Td tokens read the whole context. With `blocks` = Tc (sequence training,
    /// lazy only) row b has one block of Td tokens per context position: block n is its own causal
    /// sequence and cross-attends to context items 0...n only.
    public func decode(_ g: Graph, memory: Tensor, memoryValid: [UInt8], inputs: [Int32], batch: Int, length: Int,
                       blocks: Int = 1) -> (logits: Tensor, balance: Tensor?) {
        precondition(blocks == 1 || blocks == memory.shape[1], "decode: \(blocks) blocks for a context of \(memory.shape[1])")
        var x = g.dropout(g.embedding(embedding, inputs, shape: [batch * blocks, length]), config.dropout)
        let tc = memory.shape[1], d = config.width
        if config.newestItemQuery && tc > 0 {
            // Row b's block n reads context item n (one block: the newest, Tc - 1) at each of its tokens.
            let rows = (0..<batch).flatMap { b in (0..<blocks).flatMap { n in repeatElement(Int32(b * tc + (blocks > 1 ? n : tc - 1)), count: length) } }
            x = g.add(x, g.embedding(g.reshape(memory, [batch * tc, d]), rows, shape: [batch * blocks, length]))
        }
        let buckets = relativePositionBuckets(queries: length, keys: length, bidirectional: false,
                                              buckets: config.positionBuckets, maxDistance: config.maxDistance)
        let bias = g.relativePositionBias(decoderBias, buckets: buckets, queries: length, keys: length)
        var balance: Tensor?
        let keysValues = contextKeysValues(g, memory: memory)
        let crossMask = AttentionMask(keyValid: memoryValid, queryBlock: blocks > 1 ? length : 0)
        let crossBias = recencyBias(g, blocks: blocks, length: length, context: tc)
        for (layer, kv) in zip(decoder, keysValues) {
            x = g.add(x, g.dropout(layer.selfAttention(g, g.rmsNorm(x, weight: layer.norm1), mask: AttentionMask(causal: true), bias: bias), config.dropout))
            let queries = g.reshape(g.rmsNorm(x, weight: layer.norm2), [batch, blocks * length, d])
            let read = g.reshape(layer.cross(g, queries, keys: kv.k, values: kv.v, mask: crossMask, bias: crossBias), [batch * blocks, length, d])
            x = g.add(x, g.dropout(read, config.dropout))
            let (y, aux) = layer.moe(g, g.rmsNorm(x, weight: layer.norm3))
            x = g.add(x, g.dropout(y, config.dropout))
            if let aux { balance = balance.map { g.add($0, aux) } ?? aux }
        }
        return (g.linear(g.rmsNorm(x, weight: decoderNorm), head), balance)
    }

    /// The cross-attention's recency bias (H, blocks * length, Tc), nil without `recencyBias` or context: the
    /// `length` query tokens of block n (one block: the newest item, Tc - 1) against context item j, by n - j.
    func recencyBias(_ g: Graph, blocks: Int, length: Int, context tc: Int) -> Tensor? {
        guard let recencyTable, tc > 0 else { return nil }
        let perBlock = relativePositionBuckets(queries: blocks, keys: tc, queryOffset: blocks > 1 ? 0 : tc - 1, bidirectional: false,
                                               buckets: config.positionBuckets, maxDistance: config.contextLength)
        let ids = (0..<blocks).flatMap { n in (0..<length).flatMap { _ in perBlock[(n * tc)..<((n + 1) * tc)] } }
        return g.relativePositionBias(recencyTable, buckets: ids, queries: blocks * length, keys: tc)
    }

    /// Sequence training's batch (lazy only): B rows of Tc context items (L + 1 tokens each, left-padded) and,
    /// for each context position n, a block of Td decoder inputs and targets: the session that followed
    /// item n (all -1 where there is none).
    public struct SequenceBatch: Sendable {
        public var batch: Int, items: Int, blockLength: Int
        public var contextTokens: [Int32], contextValid: [UInt8]
        public var decoderInputs: [Int32], targets: [Int32]
        /// Each context position's `TimeGap` bucket (B * items), for a model with `timeGaps`.
        public var contextGaps: [Int32]?
        public init(batch: Int, items: Int, blockLength: Int, contextTokens: [Int32], contextValid: [UInt8], decoderInputs: [Int32], targets: [Int32],
                    contextGaps: [Int32]? = nil) {
            precondition(contextTokens.count == contextValid.count && contextTokens.count % (batch * items) == 0)
            precondition(decoderInputs.count == batch * items * blockLength && targets.count == decoderInputs.count)
            precondition(contextGaps.map { $0.count == batch * items } ?? true, "one gap bucket per context position")
            (self.batch, self.items, self.blockLength) = (batch, items, blockLength)
            (self.contextTokens, self.contextValid, self.decoderInputs, self.targets) = (contextTokens, contextValid, decoderInputs, targets)
            self.contextGaps = contextGaps
        }
    }

    /// Sequence training (lazy only): one context per row, and every context position's next session
    /// predicted from the context up to that position, as SASRec trains on every position of a sequence.
    /// Same return values as `loss`.
    public func sequenceLoss(_ g: Graph, _ batch: SequenceBatch) -> (total: Tensor, crossEntropy: Tensor) {
        precondition(config.architecture == .lazy, "sequence training needs the lazy decoder (an encoder sees the whole history)")
        let (memory, valid) = lazyContext(g, tokens: batch.contextTokens, valid: batch.contextValid, batch: batch.batch,
                                          length: batch.contextTokens.count / batch.batch, gaps: batch.contextGaps)
        let (logits, balance) = decode(g, memory: memory, memoryValid: valid, inputs: batch.decoderInputs,
                                       batch: batch.batch, length: batch.blockLength, blocks: batch.items)
        let ce = g.crossEntropy(g.reshape(logits, [batch.targets.count, config.vocabulary]), targets: batch.targets)
        guard let balance, config.balanceWeight > 0 else { return (ce, ce) }
        return (g.add(ce, g.scale(balance, config.balanceWeight)), ce)
    }

    /// Each example's summed log-probability of its targets (B), with gradients: what preference
    /// objectives compare between chosen and rejected sessions.
    public func sequenceLogProbabilities(_ g: Graph, _ batch: Batch) -> Tensor {
        let (memory, valid) = context(g, tokens: batch.encoderTokens, valid: batch.encoderValid, batch: batch.batch, length: batch.encoderLength,
                                      gaps: batch.encoderGaps)
        let (logits, _) = decode(g, memory: memory, memoryValid: valid, inputs: batch.decoderInputs,
                                 batch: batch.batch, length: batch.decoderLength)
        let perToken = g.targetLogProbabilities(g.reshape(logits, [batch.batch * batch.decoderLength, config.vocabulary]), targets: batch.targets)
        return g.sumLast(g.reshape(perToken, [batch.batch, batch.decoderLength]))
    }

    /// A copy with the same configuration and parameter values (the frozen reference of an alignment round).
    public func copy() -> Seq2Seq {
        let twin = Seq2Seq(config: config, seed: 0)
        do { try twin.parameters.load(parameters.named) } catch { preconditionFailure("a model's copy has its shapes: \(error)") }
        return twin
    }

    /// Next-token cross-entropy over the batch's targets plus `balanceWeight` times the balance loss.
    /// Returns the total (to back-propagate) and the cross-entropy alone (to report).
    public func loss(_ g: Graph, _ batch: Batch) -> (total: Tensor, crossEntropy: Tensor) {
        let (memory, valid) = context(g, tokens: batch.encoderTokens, valid: batch.encoderValid, batch: batch.batch, length: batch.encoderLength,
                                      gaps: batch.encoderGaps)
        let (logits, balance) = decode(g, memory: memory, memoryValid: valid, inputs: batch.decoderInputs,
                                       batch: batch.batch, length: batch.decoderLength)
        let ce = g.crossEntropy(g.reshape(logits, [batch.batch * batch.decoderLength, config.vocabulary]), targets: batch.targets)
        guard let balance, config.balanceWeight > 0 else { return (ce, ce) }
        return (g.add(ce, g.scale(balance, config.balanceWeight)), ce)
    }
}
