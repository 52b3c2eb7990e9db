import Testing

@testable import ReelCore

@Suite struct ReelConfigurationTests {
    @Test func aFlagWinsThenTheVariableThenTheDefaultAndEmptyMeansUnset() throws {
        let settings = ReelConfiguration(environment: ["REEL_STORAGE": "/env/store", "REEL_DATABASE_URL": ""])
        #expect(settings.value("/flag/store", .storage) == "/flag/store")
        #expect(settings.value(nil, .storage) == "/env/store")
        #expect(settings.value("", .storage) == "/env/store")
        #expect(settings.value(nil, .databaseURL) == nil)
        #expect(settings.value(nil, .stateDirectory, default: ".reel") == ".reel")
        #expect(
            throws: ConfigurationError(
                "give --database-url or set REEL_DATABASE_URL "
                    + "(Postgres: a postgres:// URL or a key=value connection string)"
            )
        ) { try settings.required(nil, .databaseURL, flagName: "--database-url") }
    }

    @Test func secondsAndFaultDelaysAreCheckedNotIgnored() throws {
        let good = ReelConfiguration(
            environment: ["REEL_RATE_LIMIT_WINDOW_SECONDS": "1.5", "REEL_FAULT_DELAY": "analyze=2,render=0.25"])
        #expect(try good.seconds(.rateLimitWindowSeconds) == .milliseconds(1500))
        #expect(try good.faultDelays() == ["analyze": .seconds(2), "render": .milliseconds(250)])
        let bad = ReelConfiguration(
            environment: ["REEL_RATE_LIMIT_WINDOW_SECONDS": "soon", "REEL_FAULT_DELAY": "analyze:2"])
        #expect(throws: ConfigurationError("REEL_RATE_LIMIT_WINDOW_SECONDS=soon is not a positive number of seconds")) {
            try bad.seconds(.rateLimitWindowSeconds)
        }
        #expect(throws: ConfigurationError("REEL_FAULT_DELAY: \"analyze:2\" is not stage=seconds")) {
            try bad.faultDelays()
        }
    }
}
