import ArgumentParser
import Benchmarks

@main
struct OneRec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onerec",
        abstract: "A generative recommender daemon in the manner of Kuaishou's OneRec.",
        subcommands: [Serve.self, Status.self, Align.self, Rollback.self, Promote.self, CanaryCommand.self, Recommend.self, Version.self, StoreCommand.self, Simulate.self,
                      CodebookCommand.self, Eval.self, BacktestCommand.self, Bench.self])
}
