import Foundation
import Testing

/// `--json`: exactly one object on stdout with `"schema": 1`, on success and on failure alike.
@Suite struct JSONTests {
    func object(_ outcome: Outcome, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let lines = outcome.stdout.split(separator: "\n")
        try #require(lines.count == 1, "one line on stdout: \(outcome)", sourceLocation: sourceLocation)
        let parsed = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
        let object = try #require(parsed, "a JSON object: \(outcome)", sourceLocation: sourceLocation)
        #expect(object["schema"] as? Int == 1, sourceLocation: sourceLocation)
        return object
    }

    @Test func validateSaysOkWithTheProject() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let outcome = try sandbox.run(["validate", "--json"])
        #expect(outcome.status == 0, "\(outcome)")
        let result = try object(outcome)
        #expect(result["command"] as? String == "validate" && result["ok"] as? Bool == true)
        #expect(result["project"] as? String == MinimalSpec.project)
    }

    @Test func anInvalidSpecListsEachProblemWithItsPosition() throws {
        let sandbox = try Sandbox()
        try sandbox.writeSpec(MinimalSpec.lines(stateDirectory: sandbox.stateDirectory).joined(separator: "\n") + "\nbogus_key: 1\n")
        let outcome = try sandbox.run(["validate", "--json"])
        #expect(outcome.status == 65, "\(outcome)")
        let result = try object(outcome)
        #expect(result["ok"] as? Bool == false)
        let error = try #require(result["error"] as? [String: Any])
        #expect(error["status"] as? Int == 65)
        let problems = try #require(error["problems"] as? [[String: Any]])
        #expect(problems.count == 1 && problems[0]["path"] as? String == "bogus_key")
        #expect((problems[0]["line"] as? Int ?? 0) > 0 && (problems[0]["column"] as? Int ?? 0) > 0)
    }

    @Test func statusPrintsAnErrorObjectWhenDockerIsUnreachable() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try sandbox.installFakeDocker(.daemonDown)
        let outcome = try sandbox.run(["status", "--json"])
        #expect(outcome.status == 69, "\(outcome)")
        let error = try #require(try object(outcome)["error"] as? [String: Any])
        #expect(error["status"] as? Int == 69 && (error["message"] as? String ?? "").contains("Docker"))
    }

    @Test func upDryRunListsThePlannedStepsAndChangesNothing() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try sandbox.installFakeDocker(.emptyEngine)
        let outcome = try sandbox.run(["up", "--dry-run", "--json"])
        #expect(outcome.status == 0, "\(outcome)")
        let result = try object(outcome)
        #expect(result["dry_run"] as? Bool == true && result["live"] as? String == "blue")
        let steps = (result["steps"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(steps.first == "create-network" && steps.contains("start-proxy"))
    }

    @Test func downWithNothingThereHasNoSteps() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try sandbox.installFakeDocker(.emptyEngine)
        let outcome = try sandbox.run(["down", "--json"])
        #expect(outcome.status == 0, "\(outcome)")
        let result = try object(outcome)
        #expect(result["changed"] as? Bool == false && (result["steps"] as? [Any])?.isEmpty == true)
    }

    @Test func aRefusedSwitchPrintsItsErrorAsAnObject() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try sandbox.installFakeDocker(.emptyEngine)
        let outcome = try sandbox.run(["switch", "green", "--json"])
        #expect(outcome.status == 1, "\(outcome)")
        let error = try #require(try object(outcome)["error"] as? [String: Any])
        #expect((error["message"] as? String ?? "").contains("is not running"))
    }
}
