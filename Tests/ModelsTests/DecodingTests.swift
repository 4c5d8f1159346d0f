import Engine
import Models
import Testing

@Suite struct DecodingTests {
    @Test(arguments: Seq2SeqTests.variants)
    func cachedStepsGiveTheLogitsOfTheFullDecoder(_ variant: Seq2SeqTests.Variant) {
        let (config, batch) = Seq2SeqTests.fixture(variant)
        let model = Seq2Seq(config: config, seed: 2)
        let g = Graph(training: false)
        let (memory, valid) = model.context(g, tokens: batch.encoderTokens, valid: batch.encoderValid, batch: 4, length: 6)
        let full = model.decode(g, memory: memory, memoryValid: valid, inputs: batch.decoderInputs, batch: 4, length: 4).logits
        let state = model.startDecoding(tokens: batch.encoderTokens, valid: batch.encoderValid, batch: 4, length: 6, beams: 1, capacity: 4)
        let weights = model.decodingWeights()
        let v = model.config.vocabulary
        for t in 0..<4 {
            let step = model.decodeStep(state, weights: weights, tokens: (0..<4).map { batch.decoderInputs[$0 * 4 + t] })
            for b in 0..<4 {
                for j in 0..<v {
                    let expected = full[(b * 4 + t) * v + j]
                    #expect(abs(step[b * v + j] - expected) < 1e-4, "row \(b) position \(t) token \(j)")
                }
            }
        }
    }

    /// With time gaps the cached steps give the full decoder's logits too, and other gaps other logits.
    @Test func timeGapsDecodeCachedAsInFull() {
        var config = Seq2SeqTests.lazyTiny
        (config.newestItemQuery, config.recencyBias, config.timeGaps) = (true, true, true)
        let batch = Seq2SeqTests.lazyBatch
        let model = Seq2Seq(config: config, seed: 2)
        let weights = model.decodingWeights()
        let v = config.vocabulary
        func full(_ gaps: [Int32]) -> Tensor {
            let g = Graph(training: false)
            let (memory, valid) = model.context(g, tokens: batch.encoderTokens, valid: batch.encoderValid, batch: 4, length: 6, gaps: gaps)
            return model.decode(g, memory: memory, memoryValid: valid, inputs: batch.decoderInputs, batch: 4, length: 4).logits
        }
        let gaps: [Int32] = [0, 1, 0, 31, 0, 7, 0, 2]
        let expected = full(gaps), other = full([0, 9, 0, 31, 0, 7, 0, 2])
        #expect((0..<4 * v).contains { abs(expected[$0] - other[$0]) > 1e-4 })  // row 0's second item's gap changed
        let state = model.startDecoding(tokens: batch.encoderTokens, valid: batch.encoderValid, batch: 4, length: 6, beams: 1, capacity: 4, gaps: gaps)
        for t in 0..<4 {
            let step = model.decodeStep(state, weights: weights, tokens: (0..<4).map { batch.decoderInputs[$0 * 4 + t] })
            for b in 0..<4 {
                for j in 0..<v { #expect(abs(step[b * v + j] - expected[(b * 4 + t) * v + j]) < 1e-4, "row \(b) position \(t) token \(j)") }
            }
        }
    }

    @Test func timeGapBuckets() {
        #expect(TimeGap.buckets(timestamps: [100, 100, 101, 103, 99, 100 + 86_400]) == [0, 1, 2, 3, 1, 18])
        #expect(TimeGap.bucket(seconds: 1 << 40) == Int32(TimeGap.buckets - 1))
    }

    @Test(arguments: Seq2SeqTests.variants)
    func beamSearchFindsWhatTheTrainedModelLearned(_ variant: Seq2SeqTests.Variant) {
        let (config, batch) = Seq2SeqTests.fixture(variant)
        let model = Seq2Seq(config: config, seed: 1)
        _ = Seq2SeqTests.train(model, steps: 150, seed: 3)
        let beams = model.beamSearch(weights: model.decodingWeights(), tokens: Array(batch.encoderTokens[0..<6]), valid: Array(batch.encoderValid[0..<6]), beam: 4, steps: 4, start: 1)
        #expect(beams.count == 4)
        #expect(beams[0].tokens == Array(batch.targets[0..<4]))
        #expect(zip(beams, beams.dropFirst()).allSatisfy { $0.logProbability >= $1.logProbability })
        #expect(Set(beams.map(\.tokens)).count == 4)
    }
}
