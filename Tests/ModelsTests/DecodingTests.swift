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
