import ArgumentParser
import Logging
import ReelCore

/// How the CLI logs: to standard error, info and worse unless `REEL_LOG_LEVEL` says otherwise.
public enum CLILogging {
    public static func logger(_ label: String, level: Logger.Level? = nil) -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        let fromEnvironment = ReelConfiguration().value(nil, .logLevel).flatMap(Logger.Level.init(rawValue:))
        logger.logLevel = fromEnvironment ?? level ?? .info
        return logger
    }
}

extension ReelConfiguration {
    /// A setting the command cannot run without; missing, it is a command-line mistake (usage follows).
    public func require(_ flag: String?, _ setting: Setting, flagName: String) throws -> String {
        do { return try required(flag, setting, flagName: flagName) } catch { throw ValidationError(error.description) }
    }
}
