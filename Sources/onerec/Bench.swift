import ArgumentParser

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that print figures (never part of the test suite).",
        subcommands: [BenchBLAS.self, BenchTrain.self, BenchDecode.self])
}
