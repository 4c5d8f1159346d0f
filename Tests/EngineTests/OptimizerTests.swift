import Engine
import EngineSupport
import Testing

@Suite struct OptimizerTests {
    @Test func adamwFirstStepMatchesHandComputation() {
        let p = Tensor(shape: [1], values: [1], requiresGrad: true, name: "p")
        var config = AdamW.Config()
        config.learningRate = 0.1
        config.clipNorm = nil
        let adam = AdamW(parameters: [p], config: config)
        p.gradBuffer()[0] = 0.5
        adam.update()
        // m = 0.05, v = 0.00025; corrected 0.5 and 0.25; step 0.1 * 0.5 / 0.5.
        #expect(abs(p[0] - 0.9) < 1e-6)
    }

    @Test func weightDecayOnlyOnMatrices() {
        let matrix = Tensor(shape: [1, 1], values: [1], requiresGrad: true, name: "w")
        let vector = Tensor(shape: [1], values: [1], requiresGrad: true, name: "b")
        var config = AdamW.Config()
        config.learningRate = 0.1
        config.weightDecay = 0.5
        let adam = AdamW(parameters: [matrix, vector], config: config)
        matrix.gradBuffer()[0] = 0
        vector.gradBuffer()[0] = 0
        adam.update()
        #expect(abs(matrix[0] - 0.95) < 1e-6)  // 1 - 0.1 * 0.5 * 1
        #expect(vector[0] == 1)
    }

    @Test func clippingBoundsTheGlobalNorm() {
        let a = Tensor(shape: [2], values: [0, 0], requiresGrad: true, name: "a")
        var config = AdamW.Config()
        config.clipNorm = 1
        let adam = AdamW(parameters: [a], config: config)
        a.gradBuffer()[0] = 6
        a.gradBuffer()[1] = 8
        #expect(abs(adam.update() - 10) < 1e-5)
        adam.zeroGradients()
        #expect(adam.gradientNorm() == 0)
    }

    @Test func schedules() {
        let s = LearningRateSchedule.warmupCosine(peak: 1, warmup: 10, total: 110, floor: 0.1)
        #expect(abs(s.rate(at: 0) - 0.1) < 1e-6)
        #expect(abs(s.rate(at: 9) - 1) < 1e-6)
        #expect(abs(s.rate(at: 60) - 0.55) < 1e-5)
        #expect(abs(s.rate(at: 110) - 0.1) < 1e-6)
        #expect(abs(s.rate(at: 500) - 0.1) < 1e-6)
        #expect(LearningRateSchedule.constant(0.3).rate(at: 7) == 0.3)
    }
}
