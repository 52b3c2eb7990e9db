import FoundationEssentials

/// Reel's settings, resolved in one place and one order: a command-line flag when given, else the environment
/// variable, else the default. An empty variable counts as unset. Every `REEL_*` variable Reel reads is a
/// `Setting` here, so `reel --help` and the README can list them from one table.
public struct ReelConfiguration: Sendable {
    /// The variables Reel reads.
    public enum Setting: String, Sendable, CaseIterable {
        case databaseURL = "REEL_DATABASE_URL"
        case storage = "REEL_STORAGE"
        case stateDirectory = "REEL_STATE_DIR"
        case logLevel = "REEL_LOG_LEVEL"
        case geminiAPIKey = "GEMINI_API_KEY"
        case geminiEndpoint = "REEL_GEMINI_ENDPOINT"
        /// Test-only: the length of the Gemini budgets' window (a minute).
        case rateLimitWindowSeconds = "REEL_RATE_LIMIT_WINDOW_SECONDS"
        /// Test-only: pauses before stages record their results (`analyze=2,render=1`).
        case faultDelay = "REEL_FAULT_DELAY"
        /// Test-only: `multipart-complete` stops the process before an S3 upload completes (`reel bench storage`).
        case faultStop = "REEL_FAULT_STOP"

        /// What the setting is for, for help texts.
        public var summary: String {
            switch self {
            case .databaseURL: "Postgres: a postgres:// URL or a key=value connection string"
            case .storage: "object storage: file:///dir or an absolute directory"
            case .stateDirectory: "reel local's state (embedded Postgres, store, logs, status mirror)"
            case .logLevel: "trace, debug, info, notice, warning, error or critical"
            case .geminiAPIKey: "the Gemini API key (never logged nor stored)"
            case .geminiEndpoint: "the Gemini API's base URL"
            case .rateLimitWindowSeconds: "the Gemini budgets' window in seconds (tests)"
            case .faultDelay: "stage=seconds pauses before results are recorded (tests)"
            case .faultStop: "multipart-complete stops reel bench storage before its upload completes (tests)"
            }
        }
    }

    public let environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// The flag, else the variable; `nil` when neither is set.
    public func value(_ flag: String?, _ setting: Setting) -> String? {
        if let flag, !flag.isEmpty { return flag }
        return environment[setting.rawValue].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The flag, else the variable, else `fallback`.
    public func value(_ flag: String?, _ setting: Setting, default fallback: String) -> String {
        value(flag, setting) ?? fallback
    }

    /// The flag, else the variable; throws `ConfigurationError` naming both when neither is set.
    public func required(_ flag: String?, _ setting: Setting, flagName: String) throws(ConfigurationError) -> String {
        guard let value = value(flag, setting) else {
            throw ConfigurationError("give \(flagName) or set \(setting.rawValue) (\(setting.summary))")
        }
        return value
    }

    /// A number of seconds from the variable, when it is set and is one.
    public func seconds(_ setting: Setting) throws(ConfigurationError) -> Duration? {
        guard let text = value(nil, setting) else { return nil }
        guard let seconds = Double(text), seconds > 0 else {
            throw ConfigurationError("\(setting.rawValue)=\(text) is not a positive number of seconds")
        }
        return .seconds(seconds)
    }

    /// `stage=seconds[,stage=seconds]` from `REEL_FAULT_DELAY`.
    public func faultDelays() throws(ConfigurationError) -> [String: Duration] {
        var delays: [String: Duration] = [:]
        for item in (value(nil, .faultDelay) ?? "").split(separator: ",") {
            let parts = item.split(separator: "=")
            guard parts.count == 2, let seconds = Double(parts[1]), seconds >= 0 else {
                throw ConfigurationError("\(Setting.faultDelay.rawValue): \"\(item)\" is not stage=seconds")
            }
            delays[String(parts[0])] = .seconds(seconds)
        }
        return delays
    }
}

/// A setting that is missing or malformed.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public var description: String

    public init(_ description: String) { self.description = description }
}
