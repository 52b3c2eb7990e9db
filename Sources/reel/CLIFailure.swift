import ArgumentParser
import ReelApp
import ReelCore
import ReelServer
import ReelStore

/// A failure at run time — something not found, a resource in use, an analysis that failed — as opposed to a
/// command line that is wrong (ArgumentParser's `ValidationError`, which prints the usage and exits 64). The
/// message alone is printed, and the exit status is 1.
struct CLIFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }

    /// Builds a process, turning the start-up refusals whose message is for the user (a state directory in use, a
    /// signing key that will not do, a database role the API cannot have) into failures that print just that.
    static func building<T>(_ build: () async throws -> T) async throws -> T {
        do {
            return try await build()
        } catch let error as StateDirectoryInUse {
            throw CLIFailure(error.description)
        } catch let error as SigningKeyError {
            throw CLIFailure(error.description)
        } catch let error as APIRoleError {
            throw CLIFailure(error.description)
        }
    }
}
