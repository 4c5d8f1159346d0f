import ArgumentParser

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that print figures (never part of the test suite).",
        subcommands: [BenchBLAS.self, BenchTrain.self, BenchDecode.self, BenchIngest.self, BenchEvents.self, BenchServe.self, BenchLoad.self])
}
