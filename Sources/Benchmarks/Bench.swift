import ArgumentParser

/// `onerec bench`: the benchmarks, each printing its figures and a ratio against a peer measured in the
/// same run.
public struct Bench: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Benchmarks that print figures (never part of the test suite).",
        subcommands: [BenchBLAS.self, BenchTrain.self, BenchDecode.self, BenchIngest.self, BenchEvents.self, BenchServe.self, BenchLoad.self, BenchPublish.self, BenchFailover.self, BenchServeFailover.self, BenchFreshness.self])
    public init() {}
}
