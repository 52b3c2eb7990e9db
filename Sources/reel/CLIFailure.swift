/// A failure at run time — something not found, a resource in use, an analysis that failed — as opposed to a
/// command line that is wrong (ArgumentParser's `ValidationError`, which prints the usage and exits 64). The
/// message alone is printed, and the exit status is 1.
struct CLIFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }
}
