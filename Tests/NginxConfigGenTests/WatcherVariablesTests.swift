import Foundation
import Testing
@testable import NginxConfigGen

/// Which key referred to each variable, the watcher's share of them, and the watcher's own reading of
/// a spec whose other variables it was not given.
@Suite struct WatcherVariablesTests {
    /// A spec whose alert targets, app, pools and watcher refer to variables, each in its own key.
    static let spec = baseSpec.replacingOccurrences(of: "release: \"v1\"", with: "release: \"${BLUE_RELEASE}\"")
        .replacingOccurrences(of: "\"shop:2\"", with: "\"${GREEN_IMAGE:?set the green image}\"")
        .replacingOccurrences(of: "  port: 3000", with: "  port: 3000\n  env: {DB_PASSWORD: \"${DB_PASSWORD:?}\", SHARED: \"$SHARED\"}")
        + """

        watch: {cooldown: "${COOLDOWN:-5m}"}
        alerts:
          slack: {webhook_url: "${SLACK_URL}"}
          webhooks: [{url: "${HOOK_URL}", headers: {Authorization: "Bearer ${HOOK_TOKEN}", X-Shared: "$SHARED"}}]
        """

    static let all = ["BLUE_RELEASE": "v7", "GREEN_IMAGE": "shop:2", "DB_PASSWORD": "hunter2", "SHARED": "s", "COOLDOWN": "1m",
                      "SLACK_URL": "https://hooks.example/T/B/S", "HOOK_URL": "https://hook.example/in", "HOOK_TOKEN": "t0k"]

    static func watcherLoad(_ yaml: String, variables: [String: String]) -> (Result<DeploymentSpec, SpecError>, [SpecIssue]) {
        var warnings: [SpecIssue] = []
        let result = SpecLoader.parse(yaml: yaml, file: "bgctl.yaml", variables: variables, for: .watcher) { warnings.append($0) }
        return (result, warnings)
    }

    @Test func eachVariableIsRecordedWithTheKeyPathsThatReferToIt() throws {
        let spec = try load(Self.spec, variables: Self.all).get()
        #expect(spec.references["DB_PASSWORD"] == ["app.env.DB_PASSWORD"])
        #expect(spec.references["SHARED"] == ["app.env.SHARED", "alerts.webhooks[0].headers.X-Shared"])
        #expect(spec.references["HOOK_TOKEN"] == ["alerts.webhooks[0].headers.Authorization"])
        #expect(spec.references["BLUE_RELEASE"] == ["pools.blue.release"])
    }

    @Test func anUnsetVariableIsRecordedAsReferencedButHasNoValue() throws {
        var variables = Self.all
        variables["SLACK_URL"] = nil
        let spec = try load(Self.spec, variables: variables).get()
        #expect(spec.references["SLACK_URL"] == ["alerts.slack.webhook_url"])
        #expect(spec.variables["SLACK_URL"] == nil && spec.watcherVariables["SLACK_URL"] == nil)
    }

    @Test func theWatcherGetsExactlyTheVariablesOfTheKeysItReads() throws {
        let spec = try load(Self.spec, variables: Self.all.merging(["UNRELATED": "1"]) { $1 }).get()
        #expect(spec.watcherVariables.keys.sorted() == ["BLUE_RELEASE", "COOLDOWN", "HOOK_TOKEN", "HOOK_URL", "SHARED", "SLACK_URL"])
        #expect(spec.watcherVariables["HOOK_TOKEN"]?.revealed == "t0k")
    }

    @Test(arguments: [(["project"], true), (["watch", "log"], true), (["alerts", "webhooks[0]", "url"], true), (["logs", "keep"], true),
                      (["state_dir"], true), (["pools", "green", "release"], true), (["pools", "green", "image"], false),
                      (["pools", "green", "env", "TOKEN"], false), (["app", "env", "release"], false), (["proxy", "tls", "key"], false)])
    func theWatchersKeysAreItsSectionsAndThePoolsReleases(path: [String], read: Bool) {
        #expect(DeploymentSpec.isWatcherKey(path) == read)
    }

    // MARK: The watcher's own reading

    @Test func aRequiredAppSecretTheWatcherWasNotGivenIsNoErrorForTheWatcher() throws {
        let yaml = baseSpec.replacingOccurrences(of: "  port: 3000", with: "  port: 3000\n  env: {DB_PASSWORD: \"${DB_PASSWORD:?}\"}")
        #expect(load(yaml).failureIssues?.map(\.message) == ["required variable DB_PASSWORD is not set"], "the stack still needs it")
        let (result, warnings) = Self.watcherLoad(yaml, variables: [:])
        #expect(try result.get().app.env["DB_PASSWORD"] == "")
        #expect(warnings.isEmpty)
    }

    @Test func theWatcherReadsTheSpecWithOnlyItsOwnVariablesWithoutAWord() throws {
        let (result, warnings) = Self.watcherLoad(Self.spec, variables: try load(Self.spec, variables: Self.all).get().watcherVariables.mapValues(\.revealed))
        let spec = try result.get()
        #expect(warnings.isEmpty, "\(warnings)")
        #expect(spec.alerts.slackWebhookURL.revealed == "https://hooks.example/T/B/S" && spec.pool(.blue).release == "v7")
        #expect(spec.watch.cooldown == .seconds(60))
    }

    @Test func anUnsetVariableOutsideTheWatchersKeysLeavesAValueTheWatcherDoesNotJudge() throws {
        let yaml = baseSpec.replacingOccurrences(of: "\"shop:1\"", with: "\"$BLUE_IMAGE\"")
            .replacingOccurrences(of: "preview_port: 8081", with: "preview_port: \"${BLUE_PORT}\"")
        #expect(load(yaml).failureIssues?.count == 2, "for the stack an empty image and port are errors")
        let (result, warnings) = Self.watcherLoad(yaml, variables: [:])
        #expect(throws: Never.self) { try result.get() }
        #expect(warnings.isEmpty)
    }

    @Test func anInvalidValueOutsideTheWatchersKeysThatNoMissingVariableMadeIsStillAnError() throws {
        let yaml = baseSpec.replacingOccurrences(of: "  port: 3000", with: "  port: \"30${SET}00a\"")
        let (result, _) = Self.watcherLoad(yaml, variables: ["SET": "0"])
        #expect(result.failureIssues?.map(\.path) == ["app.port"])
    }

    @Test func aRequiredVariableOfTheWatchersOwnKeysIsStillAnErrorForTheWatcher() throws {
        let yaml = baseSpec + "\nalerts: {slack: {webhook_url: \"${SLACK_URL:?}\"}}"
        let (result, _) = Self.watcherLoad(yaml, variables: [:])
        #expect(result.failureIssues?.map(\.message) == ["required variable SLACK_URL is not set"])
    }

    @Test func anUnsetVariableOfTheWatchersOwnKeysIsStillAWarningForTheWatcher() throws {
        let yaml = baseSpec.replacingOccurrences(of: "release: \"v1\"", with: "release: \"v1${SUFFIX}\"")
        let (result, warnings) = Self.watcherLoad(yaml, variables: [:])
        #expect(throws: Never.self) { try result.get() }
        #expect(warnings.map(\.path) == ["pools.blue.release"])
    }
}
