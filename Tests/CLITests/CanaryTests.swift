import Foundation
import Testing

/// `bgctl deploy --canary`: the flags reach the plan, and a dry run prints every step.
@Suite struct CanaryCLITests {
    func runningStack() throws -> Sandbox {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try sandbox.installFakeDocker(.runningStack)
        try FileManager.default.createDirectory(atPath: sandbox.stateDirectory, withIntermediateDirectories: true)
        try #"{"project":"\#(MinimalSpec.project)","live":"blue","updated_at":"t"}"#
            .write(toFile: sandbox.stateDirectory + "/state.json", atomically: true, encoding: .utf8)
        return sandbox
    }

    /// With the route, each step moves nginx/route/current; only the first reloads (its configuration
    /// is the one bgctl renders now).
    @Test func aDryRunPrintsEachStepsRouteAndAnalysisThenThePromotionAndChangesNothing() throws {
        let sandbox = try runningStack()
        let outcome = try sandbox.run(["deploy", "--image", "shop:3", "--canary", "5,25", "--step", "30s", "--dry-run"])
        #expect(outcome.status == 0, "\(outcome)")
        for text in ["then canary 5% → 25% → promote, 30 s each: 3 steps",
                     "1. canary-5: send 5% of requests to green, 95% to blue; analyse",
                     "1.1. route: move traffic: nginx/route/current to blue live, canary green 5%, blue 95%",
                     "1.5. reload: reload nginx gracefully",
                     "docker kill --signal HUP bgctlclitest-proxy",
                     "1.9. analyse: compare green with blue in the proxy's log for 30 s",
                     "2. canary-25: send 25% of requests to green, 75% to blue",
                     "2.1. route: move traffic: nginx/route/current to blue live, canary green 25%, blue 75%",
                     "3. promote: every request to green",
                     "3.1. route: move traffic: nginx/route/current to green live"] {
            #expect(outcome.stdout.contains(text), "missing \"\(text)\" in \(outcome)")
        }
        #expect(sandbox.dockerCalls().filter(DryRunTests.mutates).isEmpty, "\(sandbox.dockerCalls())")
        #expect(!FileManager.default.fileExists(atPath: sandbox.stateDirectory + "/lock"))
    }

    @Test func noneTurnsTheSpecsCanaryOffForOneDeploy() throws {
        let sandbox = try runningStack()
        try sandbox.writeSpec(MinimalSpec.lines(stateDirectory: sandbox.stateDirectory).joined(separator: "\n") + "\ndeploy: {canary: [10, 50]}\n")
        let canary = try sandbox.run(["deploy", "--image", "shop:3", "--dry-run"])
        #expect(canary.status == 0 && canary.stdout.contains("then canary 10% → 50% → promote, 60 s each"), "\(canary)")
        let blueGreen = try sandbox.run(["deploy", "--image", "shop:3", "--canary", "none", "--dry-run"])
        #expect(blueGreen.status == 0 && !blueGreen.stdout.contains("canary") && blueGreen.stdout.contains("analyse"), "\(blueGreen)")
    }

    @Test func theJSONResultOfADryRunNamesThePlannedSteps() throws {
        let sandbox = try runningStack()
        let outcome = try sandbox.run(["deploy", "--image", "shop:3", "--canary", "5,25,50", "--sticky", "--dry-run", "--json"])
        #expect(outcome.status == 0, "\(outcome)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        #expect(object["result"] as? String == "planned")
        let canary = try #require(object["canary"] as? [String: Any])
        #expect(canary["steps"] as? [Int] == [5, 25, 50] && canary["sticky"] as? Bool == true && canary["step_seconds"] as? Double == 60)
        #expect((object["steps"] as? [Any])?.isEmpty == true)
    }

    @Test func flagsAtTheirBoundariesAreAcceptedAndGoOnToDocker() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let outcome = try sandbox.run(["deploy", "--image", "shop:3", "--canary", "1,99", "--step", "1s", "--sticky"])
        #expect(outcome.status == 69 && outcome.stderr.contains("not installed"), "no usage error: \(outcome)")
    }
}
