/// A command that could not do its work (as opposed to bad arguments, which print the usage): printed
/// as one line, exit status 1.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
