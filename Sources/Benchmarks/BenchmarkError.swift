/// A benchmark that could not run (a missing tool, a failed child, a daemon that did not start):
/// printed as one line, exit status 1.
struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
