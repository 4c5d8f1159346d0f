import Engine
import Testing

@Suite struct WeightAverageTests {
    /// The first updates average the values they see (the starting values do not count); from 1 / (1 -
    /// decay) updates on, each update moves the average by (1 - decay) toward the values.
    @Test func averagesFollowTheValuesAndSwapBack() {
        let p = Tensor(shape: [2], values: [0, 4], requiresGrad: true, name: "p")
        let average = WeightAverage(parameters: [p], decay: 0.5)
        p[0] = 2
        p[1] = 0
        average.update()  // the values: 2, 0
        p[0] = 4
        average.update()  // the mean of two: 3, 0
        p[1] = 8
        average.update()  // decay 0.5 from here: (3 + 4) / 2, (0 + 8) / 2
        #expect(average.updates == 3)
        average.swap()
        #expect(p.values == [3.5, 4])
        average.swap()
        #expect(p.values == [4, 8])
    }

    @Test func aResetStartsTheAverageAgainFromTheValues() {
        let p = Tensor(shape: [3], values: [1, -2, 3], requiresGrad: true, name: "p")
        let average = WeightAverage(parameters: [p], decay: 0.9)
        average.update()
        p[0] = 5
        average.reset()
        #expect(average.updates == 0)
        average.swap()
        #expect(p.values == [5, -2, 3])
    }
}
