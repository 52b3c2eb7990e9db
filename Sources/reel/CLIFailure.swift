import ArgumentParser
import ReelCore

/// A failure at run time — something not found, a resource in use, an analysis that failed — as opposed to a
/// command line that is wrong (ArgumentParser's `ValidationError`, which prints the usage and exits 64). The
/// message alone is printed, and the exit status is 1.
struct CLIFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }
}

extension ReelConfiguration {
    /// A setting the command cannot run without; missing, it is a command-line mistake (usage follows).
    func require(_ flag: String?, _ setting: Setting, flagName: String) throws -> String {
        do { return try required(flag, setting, flagName: flagName) } catch { throw ValidationError(error.description) }
    }
}
