import Engine
import Testing

@Suite struct WeightAverageTests {
    @Test func averagesFollowTheValuesAndSwapBack() {
        let p = Tensor(shape: [2], values: [0, 4], requiresGrad: true, name: "p")
        let average = WeightAverage(parameters: [p], decay: 0.5)
        p[0] = 2
        p[1] = 0
        average.update()  // (0 + 2) / 2, (4 + 0) / 2
        p[0] = 4
        average.update()  // (1 + 4) / 2
        average.swap()
        #expect(p.values == [2.5, 1])
        average.swap()
        #expect(p.values == [4, 0])
    }

    @Test func anAverageStartsAtTheValuesItWasMadeFrom() {
        let p = Tensor(shape: [3], values: [1, -2, 3], requiresGrad: true, name: "p")
        let average = WeightAverage(parameters: [p], decay: 0.9)
        average.update()
        average.swap()
        #expect(p.values == [1, -2, 3])
    }
}
