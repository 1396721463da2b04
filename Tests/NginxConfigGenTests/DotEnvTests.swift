import Foundation
import Testing
@testable import NginxConfigGen

/// References between `.env` entries, each rule on its own.
@Suite struct DotEnvReferenceTests {
    func values(_ text: String, environment: [String: String] = [:]) throws -> [String: String] {
        try DotEnv.resolve(text, environment: environment).get().values
    }

    func failure(_ text: String, environment: [String: String] = [:]) throws -> DotEnv.Failure {
        guard case .failure(let failure) = DotEnv.resolve(text, environment: environment) else {
            Issue.record("resolved")
            throw CancellationError()
        }
        return failure
    }

    @Test(arguments: [
        ("A=1\nB=${A}/x", "1/x"),
        ("A=1\nB=$A/x", "1/x"),
        ("A=1\nB=${NOPE:-$A}", "1"),
        ("A=1\nB=${NOPE:-fallback}", "fallback"),
        ("A=1\nB=\"${A} x\"", "1 x"),
        ("A=1\nB=$$A", "$A"),
        ("export A=1\nexport B=${A}2", "12"),
    ])
    func aValueUsesAnEarlierEntry(_ text: String, _ expected: String) throws {
        #expect(try values(text)["B"] == expected)
    }

    @Test func aSingleQuotedValueIsLiteral() throws {
        #expect(try values("A=1\nB='${A} $A'")["B"] == "${A} $A")
    }

    @Test func theEnvironmentWinsOverAnEarlierEntry() throws {
        #expect(try values("A=file\nB=$A", environment: ["A": "env"])["B"] == "env")
    }

    @Test func theEnvironmentSuppliesANameTheFileSetsOnlyFurtherDown() throws {
        #expect(try values("A=${B}\nB=file", environment: ["B": "env"])["A"] == "env")
    }

    @Test func anEntrySetAgainLaterIsSeenWithTheValueAboveEachUse() throws {
        let found = try values("A=1\nB=$A\nA=2\nC=$A")
        #expect(found["B"] == "1" && found["C"] == "2" && found["A"] == "2")
    }

    @Test(arguments: ["A=${A}", "A=$A", "A=x${B:-$A}", "A=${A:-default}"])
    func anEntryThatRefersToItselfIsRefusedByItsLine(_ line: String) throws {
        let found = try failure("X=secret-value\n" + line)
        #expect(found.line == 2)
        #expect(found.message.hasPrefix("A refers to itself"))
        #expect(!found.message.contains("secret-value"))
    }

    @Test func aCycleIsRefusedAtTheEntryThatLooksFurtherDown() throws {
        let found = try failure("A=${B}\nB=${A}")
        #expect(found == DotEnv.Failure(line: 1, message: "A refers to B, which is set only further down, on line 2; move that line above this one (entries can use only the environment and the entries above them, so they never go round in a cycle)"))
    }

    @Test func aReferenceFurtherDownIsRefusedEvenInADefault() throws {
        #expect(try failure("A=${X:-$B}\nB=1").line == 1)
    }

    @Test func aRequiredVariableThatIsUnsetFailsWithItsLineAndMessage() throws {
        #expect(try failure("A=1\nB=${NOPE:?set NOPE first}") == DotEnv.Failure(line: 2, message: "B: NOPE: set NOPE first"))
    }

    @Test func anUnsetReferenceWithoutDefaultIsListedOnceWithItsFirstLine() throws {
        let resolved = try DotEnv.resolve("A=1\nB=${NOPE}\nC=$NOPE-$ALSO\nD=${GONE:-x}", environment: [:]).get()
        #expect(resolved.unset == [DotEnv.Unset(name: "NOPE", line: 2), DotEnv.Unset(name: "ALSO", line: 3)])
        #expect(resolved.values["B"] == "" && resolved.values["D"] == "x")
    }

    @Test func sixteenLevelsOfNestingAreReadAndSeventeenAreNot() throws {
        func nested(_ depth: Int) -> String { String(repeating: "${X:-", count: depth) + "x" + String(repeating: "}", count: depth) }
        #expect(try values("A=" + nested(16))["A"] == "x")
        let found = try failure("A=1\nB=" + nested(17))
        #expect(found.line == 2 && found.message.hasPrefix("B: variable references nested more than 16 deep"))
    }

    @Test func aValueThatGrowsPastTheInterpolatorsLimitIsRefused() throws {
        let half = String(repeating: "a", count: Interpolator.maxOutputBytes / 2)
        #expect(try values("A=\(half)\nB=$A$A")["B"]?.utf8.count == Interpolator.maxOutputBytes)
        let found = try failure("A=\(half)b\nB=$A$A")
        #expect(found.line == 2 && found.message.hasPrefix("B: the value grows past 64 KiB"))
    }

    @Test func allValuesTogetherMayReachTheLimitButNotPassIt() throws {
        let big = "A=" + String(repeating: "a", count: Interpolator.maxOutputBytes)
        let copies = DotEnv.maxResolvedBytes / Interpolator.maxOutputBytes - 1
        let atLimit = ([big] + (1...copies).map { "B\($0)=$A" }).joined(separator: "\n")
        #expect(try values(atLimit).count == copies + 1)
        let found = try failure(atLimit + "\nC=$A")
        #expect(found == DotEnv.Failure(line: copies + 2, message: "the values grow past 1024 KiB in all once variables are filled in; is this the right file?"))
    }
}

/// Warnings for variables set nowhere, through `SpecLoader.load` with a `.env` beside the spec.
@Suite struct UnsetVariableWarningTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("bgctl-env-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    /// Loads `spec` (lines replacing baseSpec's `active: blue`) with `dotEnv` beside it; the warnings heard.
    func warnings(spec extra: String, dotEnv: String? = nil, environment: [String: String] = [:]) throws -> [String] {
        let path = folder.appendingPathComponent("bgctl.yaml").path
        try baseSpec.replacingOccurrences(of: "active: blue", with: extra).write(toFile: path, atomically: true, encoding: .utf8)
        if let dotEnv {
            try dotEnv.write(to: folder.appendingPathComponent(".env"), atomically: true, encoding: .utf8)
        }
        var heard: [String] = []
        _ = try SpecLoader.load(path: path, environment: environment) { heard.append($0.description) }.get()
        return heard.map { $0.replacingOccurrences(of: folder.path + "/", with: "") }
    }

    @Test func anUnsetVariableInTheSpecIsNamedWithItsPlace() throws {
        #expect(try warnings(spec: "active: \"${LIVE}blue\"") == [
            "bgctl.yaml:10:9: active: variable LIVE is not set and has no default, so it reads as empty; set it in the environment or .env, or write ${LIVE:-default}",
        ])
    }

    @Test func aVariableUsedTwiceIsWarnedAboutOnce() throws {
        #expect(try warnings(spec: "active: \"${LIVE}blue\"\nwatch: {log: \"/var/log/${LIVE}x\"}").count == 1)
    }

    @Test func aDefaultOrAValueMeansNoWarning() throws {
        #expect(try warnings(spec: "active: \"${LIVE:-blue}\"").isEmpty)
        #expect(try warnings(spec: "active: \"${LIVE}\"", environment: ["LIVE": "blue"]).isEmpty)
        #expect(try warnings(spec: "active: \"${LIVE}\"", dotEnv: "LIVE=blue\n").isEmpty)
    }

    @Test func anUnsetVariableInTheDotEnvIsToldByItsLineOnlyAndNotAgainForTheSpec() throws {
        #expect(try warnings(spec: "active: \"${LIVE}blue\"", dotEnv: "# pools\nCOLOUR=${LIVE}\n") == [
            ".env:2:1: a $ reference in this value names a variable that is not set (not shown: the value may be a secret), so it reads as empty; set the variable, or write $$ or single-quote the value in .env for a literal $",
        ])
    }

    /// A password that happens to hold "$": what follows it is part of the secret and is never printed.
    @Test func aSecretsTailAfterADollarIsNeverPrinted() throws {
        let fromDotEnv = try warnings(spec: "active: blue", dotEnv: "DB_PASSWORD=hunter2$Kx9fQ\n")
        #expect(fromDotEnv.count == 1 && !fromDotEnv[0].contains("Kx9fQ"), "\(fromDotEnv)")
        let fromSpec = try warnings(spec: "active: blue\nalerts: {slack: {webhook_url: \"https://hooks.example/T0$Kx9fQ\"}}")
        #expect(!fromSpec.isEmpty && fromSpec.allSatisfy { !$0.contains("Kx9fQ") }, "\(fromSpec)")
    }

    @Test func theEnvironmentStillWinsOverTheDotEnvForTheSpec() throws {
        let path = folder.appendingPathComponent("bgctl.yaml").path
        try baseSpec.replacingOccurrences(of: "active: blue", with: "active: \"${LIVE}\"").write(toFile: path, atomically: true, encoding: .utf8)
        try "LIVE=blue\n".write(to: folder.appendingPathComponent(".env"), atomically: true, encoding: .utf8)
        #expect(try SpecLoader.load(path: path, environment: ["LIVE": "green"]).get().active == .green)
    }

    @Test func aDotEnvEntryBuiltFromAnotherReachesTheSpec() throws {
        let path = folder.appendingPathComponent("bgctl.yaml").path
        try baseSpec.replacingOccurrences(of: "\"shop:2\"", with: "\"${GREEN_IMAGE}\"").write(toFile: path, atomically: true, encoding: .utf8)
        try "TAG=7\nGREEN_IMAGE=shop:${TAG}\n".write(to: folder.appendingPathComponent(".env"), atomically: true, encoding: .utf8)
        let spec = try SpecLoader.load(path: path, environment: [:]).get()
        #expect(spec.pool(.green).image == "shop:7")
        #expect(spec.variables["GREEN_IMAGE"]?.revealed == "shop:7", "the watcher gets the value as the spec read it")
    }

    @Test func aCycleInTheDotEnvIsASpecErrorAtItsLine() throws {
        let path = folder.appendingPathComponent("bgctl.yaml").path
        try baseSpec.write(toFile: path, atomically: true, encoding: .utf8)
        try "A=${B}\nB=${A}\n".write(to: folder.appendingPathComponent(".env"), atomically: true, encoding: .utf8)
        guard case .failure(let error) = SpecLoader.load(path: path, environment: [:]) else { Issue.record("loaded"); return }
        #expect(error.issues.count == 1 && error.issues[0].line == 1 && error.issues[0].file.hasSuffix("/.env"))
    }
}
