import Foundation
import Testing

@Suite struct UsageTests {
    /// Each documented exit status with a word of its meaning, as `bgctl --help` lists them.
    static let exitStatuses: [(code: Int, meaning: String)] = [
        (0, "ok"), (1, "failed"), (3, "degraded"), (4, "not serving"), (5, "alert"), (6, "rolled back"),
        (7, "rollback failed"), (64, "usage"), (65, "invalid spec"), (69, "Docker unavailable"),
    ]

    @Test func helpExitsZeroAndListsEveryExitStatus() throws {
        let outcome = try Sandbox().run(["--help"])
        #expect(outcome.status == 0, "\(outcome)")
        // Help text is wrapped to a width, so compare with the line breaks folded away.
        let text = outcome.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for (code, meaning) in Self.exitStatuses {
            let pattern = try Regex("(^|[\\s,:])\(code) [^,]*\(meaning)")
            #expect(text.contains(pattern), "exit status \(code) (\(meaning)) is not listed:\n\(outcome.stdout)")
        }
    }

    struct UsageCase: CustomTestStringConvertible, Sendable {
        var arguments: [String]
        /// What the message must name so a person knows which argument to fix.
        var mentions: String
        var testDescription: String { "bgctl " + arguments.joined(separator: " ") }
    }

    static let usageCases: [UsageCase] = [
        UsageCase(arguments: ["frobnicate"], mentions: "frobnicate"),
        UsageCase(arguments: ["validate", "--bogus"], mentions: "--bogus"),
        UsageCase(arguments: ["switch", "purple"], mentions: "purple"),
        UsageCase(arguments: ["deploy"], mentions: "--image"),
        UsageCase(arguments: ["watch", "--for", "0s"], mentions: "--for"),
        UsageCase(arguments: ["watch", "--for", "abc"], mentions: "--for"),
        UsageCase(arguments: ["history", "--limit", "0"], mentions: "--limit"),
        // A flag is checked before Docker is: there is no docker on this PATH.
        UsageCase(arguments: ["down", "--lock-wait", "abc"], mentions: "--lock-wait"),
        UsageCase(arguments: ["switch", "green", "--lock-wait", "abc"], mentions: "--lock-wait"),
        UsageCase(arguments: ["status", "--color", "purple"], mentions: "--color"),
        UsageCase(arguments: ["--color", "sometimes", "validate"], mentions: "--color"),
        UsageCase(arguments: ["validate", "--color"], mentions: "--color"),
        // Canary flags, one fault each, at a boundary and just past it.
        UsageCase(arguments: ["deploy", "--image", "shop:3", "--canary", "0,50"], mentions: "'--canary <PERCENTS>': expected a percentage 1–99, found 0"),
        UsageCase(arguments: ["deploy", "--image", "shop:3", "--canary", "5,100"], mentions: "'--canary <PERCENTS>': expected a percentage 1–99, found 100"),
        UsageCase(arguments: ["deploy", "--image", "shop:3", "--canary", "50,50"], mentions: "'--canary <PERCENTS>': 50 is not above the step before it (50)"),
        UsageCase(arguments: ["deploy", "--image", "shop:3", "--canary", "1,2,3,4,5,6,7,8,9,10,11"], mentions: "'--canary <PERCENTS>': at most 10 steps, found 11"),
        UsageCase(arguments: ["deploy", "--image", "shop:3", "--canary", "5;25"], mentions: "'--canary <PERCENTS>': expected whole percentages"),
        UsageCase(arguments: ["deploy", "--image", "shop:3", "--canary", "5", "--step", "999ms"], mentions: "'--step <DURATION>': must be at least 1s"),
        UsageCase(arguments: ["deploy", "--image", "shop:3", "--canary", "5", "--step", "721h"], mentions: "'--step <DURATION>': expected a duration"),
        UsageCase(arguments: ["deploy", "--image", "shop:3", "--canary", "5", "--analyze", "30s"], mentions: "--analyze is for a blue-green deploy"),
        // A flag that stands for a spec key takes the key's limits: deploy.analyze is at least 1s.
        UsageCase(arguments: ["deploy", "--image", "shop:3", "--analyze", "500ms"], mentions: "'--analyze <DURATION>': must be at least 1s"),
        UsageCase(arguments: ["deploy", "--image", "shop:3", "--timeout", "0s"], mentions: "'--timeout <DURATION>': must be at least 1ms"),
        UsageCase(arguments: ["deploy", "--image", "Shop:3"], mentions: "'--image <image>': not a valid image reference (expected [registry/]name"),
        UsageCase(arguments: ["deploy", "--image", "shop:3", "--env", "1X=a"], mentions: "--env: expected KEY=VALUE with a valid variable name, found \"1X\""),
        // "\r\n" is one Character: the value is judged by unicode scalar, as the spec's env values are.
        UsageCase(arguments: ["deploy", "--image", "shop:3", "--env", "A=one\r\nB=two"], mentions: "--env A: a value cannot hold a line break or NUL"),
        UsageCase(arguments: ["deploy", "--image", "shop:3", "--canary", "5", "--no-switch"], mentions: "--canary: --no-switch stops before any traffic moves"),
        UsageCase(arguments: ["deploy", "--image", "shop:3", "--step", "30s"], mentions: "--step: no canary to step through"),
        UsageCase(arguments: ["deploy", "--image", "shop:3", "--canary", "none", "--sticky"], mentions: "--sticky: no canary"),
    ]

    /// A valid spec lies in the working directory, so the status can only come from the arguments.
    @Test(arguments: usageCases)
    func aUsageErrorExits64AndNamesTheArgument(_ usage: UsageCase) throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let outcome = try sandbox.run(usage.arguments)
        #expect(outcome.status == 64, "\(outcome)")
        #expect(outcome.stderr.contains(usage.mentions), "\(outcome)")
        #expect(outcome.stdout.isEmpty, "\(outcome)")
        #expect(!outcome.stderr.contains("Error Domain="), "\(outcome)")
    }
}
