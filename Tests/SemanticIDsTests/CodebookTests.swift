import Foundation
import Engine
import SemanticIDs
import Testing

@Suite struct CodebookTests {
    static func vectors(_ n: Int, d: Int = 12, seed: UInt64 = 1) -> ItemVectors {
        let (values, _) = planted(groups: 6, size: n / 6, d: d, seed: seed, spread: 0.8)
        return ItemVectors(ids: (0..<UInt64(values.count / d)).map { $0 * 10 + 1 }, dimension: d, values: values)
    }

    static func build(_ v: ItemVectors, codes: Int = 10, mode: KMeans.Mode = .balanced, seed: UInt64 = 1) throws -> (Codebook, ResidualQuantizer.Training) {
        var config = ResidualQuantizer.Config()
        config.codesPerLevel = codes
        config.mode = mode
        config.seed = seed
        let (q, training) = ResidualQuantizer.train(v, config: config)
        return (try Codebook(version: 1, vectors: v, quantizer: q, training: training), training)
    }

    @Test func everyItemHasAUniqueCodeThatLeadsBackToIt() throws {
        let v = Self.vectors(600)
        let (book, training) = try Self.build(v)
        #expect(book.count == 600)
        #expect(book.collisionsBeforeResolution > 0)  // 600 items in 1000 codes: collisions are certain
        #expect(book.collisionsBeforeResolution <= 600)
        var seen = Set<[Int32]>()
        for id in v.ids {
            let code = try #require(book.code(of: id))
            #expect(code.count == 3 && code.allSatisfy { $0 >= 0 && $0 < 10 })
            #expect(seen.insert(code).inserted)
            #expect(book.item(at: code) == id)
            // The trie allows every step of the code.
            for depth in 0..<3 { #expect(book.trie.allowed(after: Array(code.prefix(depth))).contains(code[depth])) }
        }
        #expect(training.sizes[0] == [Int](repeating: 60, count: 10))
    }

    @Test func reconstructionErrorFallsLevelByLevel() throws {
        let (_, training) = try Self.build(Self.vectors(600))
        let errors = training.residualEnergy.map { $0 / training.totalEnergy }
        #expect(errors[0] < 1 && errors[1] < errors[0] && errors[2] < errors[1])
    }

    @Test func aFullCodebookSaysSo() throws {
        let v = Self.vectors(60, d: 4)
        #expect(throws: CodebookError.self) { try Self.build(v, codes: 3) }  // 60 items, 27 codes
    }

    @Test func anItemArrivingLaterGetsAFreeCodeAtOnce() throws {
        let v = Self.vectors(600)
        let (book, _) = try Self.build(v)
        // A copy of an existing item's vector: its nearest code is taken, so it must move.
        let original = Array(v.row(0))
        let code = try book.add(item: 999_999, vector: original)
        #expect(book.item(at: code) == 999_999)
        #expect(code != book.code(of: v.ids[0]))
        #expect(try book.add(item: 999_999, vector: original) == code)  // idempotent
        #expect(throws: CodebookError.self) { try book.add(item: 5, vector: [Float](repeating: .nan, count: 12)) }
        #expect(book.count == 601)
    }

    @Test func seededBuildsAreIdentical() throws {
        let v = Self.vectors(300, seed: 4)
        let (a, _) = try Self.build(v, seed: 9)
        let (b, _) = try Self.build(v, seed: 9)
        #expect(a.assignments.map(\.code) == b.assignments.map(\.code))
        #expect(a.quantizer.centroids == b.quantizer.centroids)
    }

    @Test func badVectorsAreRejectedOneByOneWithReasons() throws {
        var items: [(id: UInt64, vector: [Float])] = Self.vectors(60, d: 4).ids.enumerated().map { ($1, [Float(($0 % 7) + 1), 1, Float($0 % 3), 2]) }
        items.insert((1000, [1, 2, 3]), at: 5)
        items.insert((1001, [1, .nan, 3, 4]), at: 9)
        items.insert((1002, [0, 0, 0, 0]), at: 20)
        items.insert((1003, [.infinity, 0, 0, 1]), at: 30)
        items.append((items[0].id, [1, 1, 1, 1]))
        let (vectors, rejected) = ItemVectors.validated(items, dimension: 4)
        #expect(rejected.map(\.id) == [1000, 1001, 1002, 1003, items[0].id])
        #expect(rejected.map(\.reason) == [.wrongDimension, .notFinite, .zeroNorm, .notFinite, .duplicateID])
        #expect(vectors.count == 60)
        let (book, _) = try Self.build(vectors, codes: 5)
        #expect(book.count == 60)
    }

    @Test func contentAndBehaviourConcatenateWithWeights() {
        let content = ItemVectors(ids: [1, 2], dimension: 2, values: [3, 4, 0, 2])
        let behaviour = ItemVectors(ids: [2], dimension: 1, values: [-5])
        let both = ItemVectors.concatenated([(content, 1), (behaviour, 0.5)])
        #expect(both.dimension == 3)
        #expect(both.values == [0.6, 0.8, 0, 0, 1, -0.5])
    }

    @Test func reportStatesTheBalanceAndErrors() throws {
        let v = Self.vectors(600)
        let (book, training) = try Self.build(v)
        let report = CodebookReport(codebook: book, training: training, mode: .balanced, seconds: 0.1)
        #expect(report.items == 600 && report.codesUsed[0] == 10)
        #expect(report.clusterSizes[0].min == 60 && report.clusterSizes[0].max == 60)
        #expect(report.entropy[0] > 3.3 && report.entropy[0] <= log2(10.0) + 1e-9)
        #expect(report.description.contains("collisions before resolution"))
    }
}
