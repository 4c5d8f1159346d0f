import Foundation
import Engine
import Generator
import Models
import SemanticIDs
import Testing

/// A codebook over `n` items with random vectors (a random trie).
func randomCodebook(items n: Int, codes: Int, seed: UInt64) throws -> Codebook {
    var rng = SplitMix64(seed: seed)
    let d = 6
    let values = (0..<(n * d)).map { _ in rng.nextGaussian() }
    let vectors = ItemVectors(ids: (0..<UInt64(n)).map { $0 }, dimension: d, values: values)
    var config = ResidualQuantizer.Config()
    config.codesPerLevel = codes
    config.seed = seed
    let (q, training) = ResidualQuantizer.train(vectors, config: config)
    return try Codebook(version: 1, vectors: vectors, quantizer: q, training: training)
}

func tinyModel(vocabulary: Int, seed: UInt64, architecture: Seq2Seq.Architecture = .encoderDecoder, itemVocabulary: Int = 0,
               contextLength: Int = 4, contextLayers: Int? = nil, newestItemQuery: Bool = false, recencyBias: Bool = false) -> Seq2Seq {
    var c = Seq2Seq.Config.preset("tiny", architecture: architecture)!
    (c.vocabulary, c.itemVocabulary, c.contextLength) = (vocabulary, itemVocabulary, contextLength)
    if let contextLayers { c.encoderLayers = contextLayers }
    (c.newestItemQuery, c.recencyBias) = (newestItemQuery, recencyBias)
    return Seq2Seq(config: c, seed: seed)
}

/// A tokenizer and a tiny model of `architecture`; the lazy one with item-ID rows for the even items.
func tinyGenerator(_ book: Codebook, architecture: Seq2Seq.Architecture, seed: UInt64, contextLength: Int = 4,
                   contextLayers: Int? = nil, newestItemQuery: Bool = false, recencyBias: Bool = false) -> (ItemTokenizer, Seq2Seq) {
    let rows = ItemTokenizer.rows(counts: Dictionary(uniqueKeysWithValues: book.assignments.map { ($0.item, $0.item % 2 == 0 ? 2 : 1) }), minimum: 2)
    let tokenizer = ItemTokenizer(codebook: book, itemIDs: architecture == .lazy ? .rows(rows) : .none)
    return (tokenizer, tinyModel(vocabulary: tokenizer.vocabulary, seed: seed, architecture: architecture,
                                 itemVocabulary: tokenizer.itemVocabulary, contextLength: contextLength, contextLayers: contextLayers,
                                 newestItemQuery: newestItemQuery, recencyBias: recencyBias))
}

@Suite struct GeneratorTests {
    @Test func tokensRoundTrip() throws {
        let book = try randomCodebook(items: 40, codes: 5, seed: 1)
        let tokenizer = ItemTokenizer(codebook: book)
        #expect(tokenizer.vocabulary == 3 + 3 * 5)
        let tokens = tokenizer.tokens(of: 7)
        #expect(tokens.enumerated().map { tokenizer.code($0.element, level: $0.offset)! } == book.code(of: 7))
        #expect(tokenizer.historyTokens([1, 2, 3][...], maxItems: 2) == tokenizer.tokens(of: 2) + [2] + tokenizer.tokens(of: 3) + [2])
        let (inputs, targets) = tokenizer.sessionTokens([4, 5])
        #expect(inputs == [1] + tokenizer.tokens(of: 4) + [1] + tokenizer.tokens(of: 5).dropLast())
        #expect(targets == tokenizer.tokens(of: 4) + [-1] + tokenizer.tokens(of: 5))
        #expect(inputs.count == tokenizer.sessionLength(items: 2))
    }

    /// Items with enough interactions get rows 1... in item order; in a history each of them ends with its
    /// item token (after the code vocabulary), every other item with [SEP].
    @Test func itemRowsMarkFrequentItemsInTheHistory() throws {
        let book = try randomCodebook(items: 40, codes: 5, seed: 1)
        let rows = ItemTokenizer.rows(counts: [9: 3, 2: 5, 4: 1, 30: 2], minimum: 2)
        #expect(rows == [2: 1, 9: 2, 30: 3])
        let tokenizer = ItemTokenizer(codebook: book, itemIDs: .rows(rows))
        #expect(tokenizer.itemVocabulary == 4)
        let v = Int32(tokenizer.vocabulary)
        #expect(tokenizer.historyTokens([4, 9, 2][...], maxItems: 3)
                == tokenizer.tokens(of: 4) + [2] + tokenizer.tokens(of: 9) + [v + 2] + tokenizer.tokens(of: 2) + [v + 1])
        #expect(ItemTokenizer(codebook: book).itemVocabulary == 0)
    }

    /// The daemon's item IDs: row = place in the codebook's coding order + 1, up to the capacity; an item
    /// coded later takes the next row (seen at once by a tokenizer made before), and items past the
    /// capacity are known by their codes alone.
    @Test func codingOrderRowsGrowWithTheCatalog() throws {
        let book = try randomCodebook(items: 10, codes: 5, seed: 1)
        let tokenizer = ItemTokenizer(codebook: book, itemIDs: .codingOrder(capacity: 11))
        #expect(tokenizer.itemVocabulary == 12)
        #expect(book.itemsInOrder == book.assignments.map(\.item))
        #expect(book.itemsInOrder.map { tokenizer.row(of: $0) } == (1...10).map { Int32($0) })
        try book.add(item: 500, vector: [Float](repeating: 0.5, count: book.quantizer.dimension))
        try book.add(item: 501, vector: [Float](repeating: -0.5, count: book.quantizer.dimension))
        #expect(tokenizer.row(of: 500) == 11 && tokenizer.row(of: 501) == nil && tokenizer.row(of: 9_999) == nil)
        let v = Int32(tokenizer.vocabulary)
        #expect(tokenizer.historyTokens([500, 501][...], maxItems: 2) == tokenizer.tokens(of: 500) + [v + 11] + tokenizer.tokens(of: 501) + [2])
    }

    /// Property: over random tries, untrained models and random exclusions, constrained beam search only
    /// emits items that exist, never twice in a session, never an excluded one, best first.
    @Test(arguments: 1...6)
    func constrainedSessionsAreValid(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed * 31)
        let items = 20 + Int(rng.next() % 60)
        let book = try randomCodebook(items: items, codes: 5 + Int(rng.next() % 3), seed: seed)
        let tokenizer = ItemTokenizer(codebook: book)
        let model = tinyModel(vocabulary: tokenizer.vocabulary, seed: seed)
        let decoder = SessionDecoder(model: model, weights: model.decodingWeights(), tokenizer: tokenizer)
        let excluded = Set((0..<(items / 3)).map { _ in UInt64(rng.next() % UInt64(items)) })
        let history = tokenizer.historyTokens(Array(excluded)[...], maxItems: 10)
        let m = 1 + Int(rng.next() % 4)
        let result = decoder.generate(history: history, items: m, beam: 8, excluded: excluded)
        #expect(!result.sessions.isEmpty)
        for s in result.sessions {
            #expect(s.items.count == m)
            #expect(Set(s.items).count == m)
            #expect(s.items.allSatisfy { book.code(of: $0) != nil && !excluded.contains($0) })
        }
        #expect(zip(result.sessions, result.sessions.dropFirst()).allSatisfy { $0.logProbability >= $1.logProbability })
        #expect(Set(result.sessions.map(\.items)).count == result.sessions.count)
        #expect(result.entropy.count == 3 && result.entropy.allSatisfy { $0 >= 0 })
    }

    @Test func aCatalogSmallerThanTheBeamStillDecodes() throws {
        let book = try randomCodebook(items: 4, codes: 2, seed: 9)
        let tokenizer = ItemTokenizer(codebook: book)
        let model = tinyModel(vocabulary: tokenizer.vocabulary, seed: 2)
        let decoder = SessionDecoder(model: model, weights: model.decodingWeights(), tokenizer: tokenizer)
        let result = decoder.generate(history: tokenizer.historyTokens([0][...], maxItems: 4), items: 2, beam: 16, excluded: [0])
        // Three items left, sessions of two distinct ones: 6 ordered pairs at most.
        #expect(result.sessions.count == 6)
        #expect(result.sessions.allSatisfy { !$0.items.contains(0) && Set($0.items).count == 2 })
    }

    /// A deterministic rule: after items ..., a, the session is a+1, a+2 (mod 30). A tiny model learns it.
    @Test(arguments: Seq2Seq.Architecture.allCases)
    func learnsADeterministicSequenceRule(architecture: Seq2Seq.Architecture) throws {
        let n = 30
        let book = try randomCodebook(items: n, codes: 4, seed: 3)
        let (tokenizer, model) = tinyGenerator(book, architecture: architecture, seed: 4)
        var config = AdamW.Config()
        config.learningRate = 3e-3
        let trainer = GeneratorTrainer(model: model, tokenizer: tokenizer, maxHistory: 4, sessionItems: 2, optimizer: config)
        var rng = SplitMix64(seed: 5)
        func example() -> SessionExample {
            let last = UInt64(rng.next() % UInt64(n))
            let history = (0..<3).map { UInt64((Int(last) + n - 3 + $0 + 1) % n) }.dropLast() + [last]
            return SessionExample(history: Array(history), session: [(last + 1) % UInt64(n), (last + 2) % UInt64(n)])
        }
        var loss: Float = 0
        for step in 0..<400 { loss = trainer.step((0..<16).map { _ in example() }, seed: UInt64(step)).loss }
        #expect(loss < 0.05, "loss after 400 steps: \(loss)")
        let decoder = SessionDecoder(model: model, weights: model.decodingWeights(), tokenizer: tokenizer)
        var correct = 0
        for last in 0..<n {
            let history: [UInt64] = [UInt64((last + n - 2) % n), UInt64((last + n - 1) % n), UInt64(last)]
            let best = decoder.generate(history: tokenizer.historyTokens(history[...], maxItems: 4), items: 2, beam: 4).sessions[0]
            if best.items == [UInt64((last + 1) % n), UInt64((last + 2) % n)] { correct += 1 }
        }
        #expect(correct >= 29, "\(correct)/30 sessions right")
    }
}

@Suite struct CheckpointResumeTests {
    func examples(_ rng: inout SplitMix64, _ n: Int) -> [SessionExample] {
        (0..<8).map { _ in
            let a = UInt64(rng.next() % UInt64(n))
            return SessionExample(history: [a, (a + 3) % UInt64(n)], session: [(a + 1) % UInt64(n)])
        }
    }

    /// 4 steps, save, resume in a fresh trainer, 4 more steps == 8 uninterrupted steps, bit for bit.
    @Test(arguments: Seq2Seq.Architecture.allCases)
    func resumingContinuesExactly(architecture: Seq2Seq.Architecture) throws {
        let book = try randomCodebook(items: 30, codes: 4, seed: 1)
        let (tokenizer, _) = tinyGenerator(book, architecture: architecture, seed: 7)
        func model(seed: UInt64) -> Seq2Seq {
            tinyModel(vocabulary: tokenizer.vocabulary, seed: seed, architecture: architecture, itemVocabulary: tokenizer.itemVocabulary)
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gen-\(UUID()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }

        let straight = GeneratorTrainer(model: model(seed: 7), tokenizer: tokenizer, maxHistory: 4, sessionItems: 1)
        var rng = SplitMix64(seed: 3)
        var straightLosses: [Float] = []
        for s in 0..<8 { straightLosses.append(straight.step(examples(&rng, 30), seed: UInt64(s)).loss) }

        let first = GeneratorTrainer(model: model(seed: 7), tokenizer: tokenizer, maxHistory: 4, sessionItems: 1)
        rng = SplitMix64(seed: 3)
        var losses: [Float] = []
        for s in 0..<4 { losses.append(first.step(examples(&rng, 30), seed: UInt64(s)).loss) }
        try first.save(to: path)
        let second = GeneratorTrainer(model: model(seed: 99), tokenizer: tokenizer, maxHistory: 4, sessionItems: 1)
        try second.resume(from: path)
        for s in 4..<8 { losses.append(second.step(examples(&rng, 30), seed: UInt64(s)).loss) }
        #expect(losses == straightLosses)
        #expect(second.model.parameters.tensors.map(\.values) == straight.model.parameters.tensors.map(\.values))

        // A checkpoint of another shape is refused and changes nothing.
        let lazy = architecture == .lazy  // (a lazy model with item rows has the tokenizer's vocabulary exactly)
        let other = GeneratorTrainer(model: tinyModel(vocabulary: tokenizer.vocabulary + (lazy ? 0 : 1), seed: 5, architecture: architecture,
                                                      itemVocabulary: tokenizer.itemVocabulary, contextLength: lazy ? 8 : 4),
                                     tokenizer: tokenizer, maxHistory: 4, sessionItems: 1)
        let before = other.model.parameters.tensors.map(\.values)
        #expect(throws: CheckpointError.self) { try other.resume(from: path) }
        #expect(other.model.parameters.tensors.map(\.values) == before)
    }
}
