import Foundation
import Testing
@testable import NginxConfigGen

/// Regression tests for the adversarial review of spec loading: every bad input ends in a
/// positioned problem, never a crash, a hang or a secret in the message.
@Suite struct SpecLimitsTests {
    func nested(_ depth: Int) -> String {
        String(repeating: "${A:-", count: depth) + "x" + String(repeating: "}", count: depth)
    }

    func issues(_ yaml: String, variables: [String: String] = [:]) throws -> [SpecIssue] {
        try #require(load(yaml, variables: variables).failureIssues)
    }

    // MARK: Interpolation limits

    @Test func defaultsNestedSixteenDeepExpand() throws {
        #expect(try Interpolator(variables: [:]).interpolate(nested(16)).get().value == "x")
    }

    @Test func defaultsNestedSeventeenDeepAreRefused() {
        #expect(throws: Interpolator.Failure(message: "variable references nested more than 16 deep at character 81 of the value")) {
            try Interpolator(variables: [:]).interpolate(nested(17)).get()
        }
    }

    @Test func eighteenKilobytesOfNestedDefaultsFailWithAPosition() throws {
        let yaml = baseSpec.replacingOccurrences(of: "active: blue", with: "active: \"\(nested(3600))\"")
        let found = try issues(yaml)
        #expect(found.map(\.description) == ["bgctl.yaml:10:9: active: variable references nested more than 16 deep at character 81 of the value"])
    }

    @Test func aValueOfExactlySixtyFourKibibytesExpands() throws {
        let value = try Interpolator(variables: ["B": String(repeating: "b", count: 1024)])
            .interpolate(String(repeating: "$B", count: 64)).get().value
        #expect(value.utf8.count == Interpolator.maxOutputBytes)
    }

    @Test func aValueOneBytePastSixtyFourKibibytesIsRefused() {
        let interpolator = Interpolator(variables: ["B": String(repeating: "b", count: 1024)])
        let result = interpolator.interpolate(String(repeating: "$B", count: 64) + ".")
        #expect(result.failureMessage?.hasPrefix("the value grows past 64 KiB") == true)
    }

    // MARK: YAML structure

    static let laughs = (1...8).reduce("  l0: &l0 [a, a, a, a, a, a, a, a, a]\n") { text, level in
        text + "  l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 9).joined(separator: ", ") + "]\n"
    }

    @Test func aBillionLaughsKeyIsRefusedAtTheAlias() throws {
        let found = try issues(baseSpec + "\nx:\n" + Self.laughs + "  ? *l8\n  : 1\n")
        #expect(found.count == 1)
        #expect((12...21).contains(found[0].line) && found[0].message.contains("more than 20000 YAML nodes"), "\(found)")
    }

    @Test func aBillionLaughsValueIsRefused() throws {
        let found = try issues(baseSpec + "\nx:\n" + Self.laughs)
        #expect(found.first?.message.contains("more than 20000 YAML nodes") == true, "\(found)")
    }

    @Test func anAliasUsedAsAKeyIsRefused() throws {
        let found = try issues(baseSpec + "\nwatch: {log: &k /tmp/x}\nx: {*k : 1}\n")
        #expect(found.map(\.description) == ["bgctl.yaml:12:5: an alias (*k) used as a key; keys must be written out"])
    }

    @Test(arguments: ["x: {[a]: 1}", "x: {{a: 1}: 2}", "x:\n  ? [a]\n  : 1"])
    func aCollectionUsedAsAKeyIsRefused(_ entry: String) throws {
        let found = try issues(baseSpec + "\n" + entry)
        #expect(found.first?.message.hasSuffix("used as a key; keys must be plain strings") == true, "\(found)")
    }

    @Test func thirtyTwoNestedMappingsAreRead() throws {
        let yaml = (0..<32).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n") + " v\n"
        #expect(YAMLGuard.check(yaml, file: "f").isEmpty)
    }

    @Test func thirtyThreeNestedMappingsAreRefused() throws {
        let yaml = (0..<33).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n") + " v\n"
        #expect(YAMLGuard.check(yaml, file: "f").map(\.message) == ["nested more than 32 levels deep; this is not a deployment spec"])
    }

    @Test func theDuplicateKeyIsReportedNotTheFirst() throws {
        let found = try issues(baseSpec + "\nactive: green\n")
        #expect(found.map(\.description) == ["bgctl.yaml:11:1: duplicate key \"active\" (first at line 10, column 1); keep one"])
    }

    @Test(arguments: ["!foo", "!!python/object", "!!binary", "!", "!<tag:example.com,2000:x>"])
    func anUnknownTagIsRefused(_ tag: String) throws {
        let found = try issues(baseSpec.replacingOccurrences(of: "active: blue", with: "active: \(tag) blue"))
        #expect(found.count == 1 && found[0].line == 10 && found[0].column == 9, "\(found)")
        #expect(found.first?.message.hasPrefix("unsupported YAML tag") == true)
    }

    @Test func coreSchemaTagsAreAccepted() throws {
        let spec = try load(baseSpec.replacingOccurrences(of: "active: blue", with: "active: !!str green")).get()
        #expect(spec.active == .green)
    }

    @Test func aSecondDocumentIsRefused() throws {
        #expect(try issues(baseSpec + "\n---\nproject: other\n").first?.line == 11)
    }

    // MARK: Sizes and counts

    @Test func aSpecOfExactlyOneMebibyteIsRead() throws {
        let padding = String(repeating: "#", count: SpecLoader.maxFileBytes - baseSpec.utf8.count - 1)
        #expect(throws: Never.self) { try load(baseSpec + "\n" + padding).get() }
    }

    @Test func aSpecOneBytePastOneMebibyteIsRefused() throws {
        let padding = String(repeating: "#", count: SpecLoader.maxFileBytes - baseSpec.utf8.count)
        #expect(try issues(baseSpec + "\n" + padding).map(\.message) == ["the spec is 1048577 bytes; the limit is 1024 KiB"])
    }

    @Test func aLargeFileIsRefusedBeforeItIsRead() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bgctl-limits-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("bgctl.yaml")
        try Data(count: SpecLoader.maxFileBytes + 1).write(to: file)
        let found = try #require(SpecLoader.load(path: file.path, environment: [:]).failureIssues)
        #expect(found.map(\.message) == ["the file is 1048577 bytes; the limit is 1024 KiB; is this the right file?"])
    }

    /// A fresh folder for `body`, removed after; `body` gets the folder and its bgctl.yaml's path.
    func inFolder(_ body: (URL, String) throws -> Void) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bgctl-limits-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try body(folder, folder.appendingPathComponent("bgctl.yaml").path)
    }

    @Test func aFIFOAsTheSpecIsRefusedWithoutWaitingForAWriter() throws {
        try inFolder { _, file in
            mkfifo(file, 0o600)
            let found = try #require(SpecLoader.load(path: file, environment: [:]).failureIssues)
            #expect(found.map(\.message) == ["cannot read \(file): not a regular file (a FIFO, a device or a folder); pass -f FILE or set BGCTL_FILE"])
        }
    }

    @Test func aFIFOAsTheDotEnvIsRefusedWithoutWaitingForAWriter() throws {
        try inFolder { folder, file in
            try baseSpec.write(toFile: file, atomically: true, encoding: .utf8)
            mkfifo(folder.appendingPathComponent(".env").path, 0o600)
            let found = try #require(SpecLoader.load(path: file, environment: [:]).failureIssues)
            #expect(found.first?.message.contains("not a regular file") == true)
        }
    }

    @Test func onlyTheFirstFiftyProblemsAreListed() throws {
        let yaml = baseSpec + "\n" + (0..<60).map { "unknown_\($0): 1" }.joined(separator: "\n")
        guard case .failure(let error) = load(yaml) else { Issue.record("loaded"); return }
        #expect(error.issues.count == 50 && error.omitted == 10 && error.problemCount == 60)
        #expect(error.issues.last?.path == "unknown_49")
        #expect(error.description.hasSuffix("\n… and 10 more problems"))
    }

    // MARK: Numbers

    @Test(arguments: ["9223372036854776", "2562047788015h2562047788015h", "720h1ms", "2592001", "43201m",
                      "+5s", "05s", "5 s", " 5s", "5_000ms", "٥s", "5S", "1s1s", "30s1m", "1ms1s", "-0s", "1h30"])
    func rejectsTheDuration(_ text: String) {
        #expect(SpecDuration(parsing: text) == nil)
    }

    @Test(arguments: [("720h", 2_592_000_000), ("2592000", 2_592_000_000), ("1h30m", 5_400_000), ("1m30s500ms", 90_500), ("0", 0)])
    func acceptsTheDurationUpToThirtyDays(text: String, milliseconds: Int) {
        #expect(SpecDuration(parsing: text)?.milliseconds == milliseconds)
    }

    @Test(arguments: ["9223372036854776", "2562047788015h2562047788015h"])
    func anOverflowingDurationIsAProblemNotACrash(_ text: String) throws {
        let found = try issues(baseSpec.replacingOccurrences(of: "  listen: \"0.0.0.0:8080\"", with: "  connect_timeout: \(text)"))
        #expect(found.map(\.path) == ["proxy.connect_timeout"])
    }

    @Test(arguments: ["+4", "04", "4 ", "4_0", "٤", "0x4", "65", "0"])
    func rejectsTheWorkerProcessCount(_ text: String) throws {
        let found = try issues(baseSpec.replacingOccurrences(of: "  listen: \"0.0.0.0:8080\"", with: "  worker_processes: \"\(text)\""))
        #expect(found.map(\.path) == ["proxy.worker_processes"])
    }

    @Test(arguments: ["1", "64", "auto"])
    func acceptsTheWorkerProcessCount(_ text: String) throws {
        let spec = try load(baseSpec.replacingOccurrences(of: "  listen: \"0.0.0.0:8080\"", with: "  worker_processes: \"\(text)\"")).get()
        #expect(spec.proxy.workerProcesses == text)
    }

    @Test(arguments: ["+80", "080", "0.0.0.0:+80", "0.0.0.0:080", "00.0.0.0:80"])
    func rejectsTheListenAddress(_ text: String) throws {
        let found = try issues(baseSpec.replacingOccurrences(of: "\"0.0.0.0:8080\"", with: "\"\(text)\""))
        #expect(found.map(\.path) == ["proxy.listen"])
    }

    @Test(arguments: ["+1", "01", "1.", ".5", "1e1", "0x1", "inf", "nan", "1,5"])
    func rejectsTheErrorRate(_ text: String) throws {
        let found = try issues(baseSpec + "\nwatch: {error_rate_threshold: \"\(text)\"}")
        #expect(found.map(\.path) == ["watch.error_rate_threshold"])
    }

    // MARK: Secrets

    @Test func aURLInTheWrongPlaceShowsOnlyItsHost() throws {
        let found = try issues(baseSpec.replacingOccurrences(of: "project: shop", with: "project: \"https://hooks.slack.com/services/T0123/B0456/SECRET\""))
        #expect(found.map(\.message) == ["expected lowercase letters, digits, \"_\" or \"-\" starting with a letter or digit (at most 40), found \"https://hooks.slack.com/…\""])
    }

    @Test func anUnterminatedReferenceInAURLIsNamedByPosition() throws {
        let found = try issues(baseSpec.replacingOccurrences(of: "active: blue", with: "active: \"https://hooks.slack.com/services/T0123/B0456/${SECRET\""))
        #expect(found.count == 1 && !found[0].description.contains("T0123") && found[0].message.contains("at character 46"))
    }

    @Test func aURLUsedAsAKeyIsRedactedInThePath() throws {
        let found = try issues(baseSpec + "\n\"https://user:pw@hooks.example/T0123/SECRET\": 1")
        #expect(found.count == 1 && !found[0].description.contains("T0123") && !found[0].description.contains("pw"), "\(found)")
    }

    @Test func aScalarWhereTheAlertsMappingBelongsIsNotShown() throws {
        let found = try issues(baseSpec + "\nalerts: {slack: \"xoxb-SECRET\"}")
        #expect(found.map(\.message) == ["expected a mapping, found a single value (not shown: it may be a secret)"])
    }

    @Test func aBadDotEnvLineIsNamedByItsNumberOnly() {
        let result = DotEnv.parse("A=1\nhttps://hooks.slack.com/services/T0/B0/SECRET")
        guard case .failure(let failure) = result else { Issue.record("parsed"); return }
        #expect(failure.line == 2 && !failure.message.contains("SECRET") && !failure.message.contains("hooks"))
    }

    @Test func aDotEnvNameThatIsNotANameIsNotShown() {
        guard case .failure(let failure) = DotEnv.parse("SECRET-TOKEN=1") else { Issue.record("parsed"); return }
        #expect(failure.line == 1 && !failure.message.contains("SECRET"))
    }

    @Test func requiredVariableMessagesAreShownAsWrittenNotInterpolated() {
        let interpolator = Interpolator(variables: ["TOKEN": "SECRET"])
        #expect(throws: Interpolator.Failure(message: "X: needs $TOKEN")) { try interpolator.interpolate("${X:?needs $TOKEN}").get() }
    }

    // MARK: Paths and environment

    @Test(arguments: ["\\0", "\\n", "\\r", "\\t", "\\x7f", "\\x85", "\\e"])
    func aControlCharacterInTheLogPathIsRefused(_ escape: String) throws {
        let found = try issues(baseSpec + "\nwatch: {log: \"/var/log/a\(escape)b\"}")
        #expect(found.map(\.path) == ["watch.log"])
    }

    @Test(arguments: ["\\0", "\\n", "\\x1b"])
    func aControlCharacterInTheStateFolderIsRefused(_ escape: String) throws {
        let found = try issues(baseSpec + "\nstate_dir: \"/srv/a\(escape)b\"")
        #expect(found.map(\.path) == ["state_dir"])
    }

    @Test func aSmokeQueryWithASpaceIsRefused() throws {
        let found = try issues(baseSpec + "\ndeploy: {smoke: [{path: \"/v?a b\"}]}")
        #expect(found.map(\.path) == ["deploy.smoke[0].path"])
    }

    @Test func anEnvironmentNameOf256CharactersIsAccepted() throws {
        let name = String(repeating: "A", count: 256)
        let spec = try load(baseSpec.replacingOccurrences(of: "  port: 3000", with: "  port: 3000\n  env: {\(name): x}")).get()
        #expect(spec.app.env[name] == "x")
    }

    @Test(arguments: [String(repeating: "A", count: 257), "1A", "A-B", "A.B", "É"])
    func rejectsTheEnvironmentName(_ name: String) throws {
        let found = try issues(baseSpec.replacingOccurrences(of: "  port: 3000", with: "  port: 3000\n  env: {\"\(name)\": x}"))
        #expect(found.count == 1 && found[0].message.hasPrefix("not a valid environment variable name"))
    }

    @Test(arguments: ["\\0", "\\n", "\\r"])
    func anEnvironmentValueThatDockerCannotCarryIsRefusedWithoutShowingIt(_ escape: String) throws {
        let found = try issues(baseSpec.replacingOccurrences(of: "  port: 3000", with: "  port: 3000\n  env: {TOKEN: \"SECRET\(escape)x\"}"))
        #expect(found.map(\.path) == ["app.env.TOKEN"])
        #expect(found.allSatisfy { !$0.description.contains("SECRET") })
    }
}

extension Result where Failure == Interpolator.Failure {
    var failureMessage: String? {
        if case .failure(let failure) = self { return failure.message }
        return nil
    }
}
