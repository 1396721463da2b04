import Foundation
import Testing
import NginxConfigGen
@testable import Orchestrator

/// Operations run end to end against a strict scripted docker: any command the test did not script
/// fails it. Time is a fake clock, files a temp folder.
@Suite struct ExecutorTests {
    let runner = ScriptedRunner()
    let http = ScriptedHTTP()
    let stateDir = Fixture.tempDir()
    static let allRunning = Fixture.inspectJSON([("shop-blue", "running", "healthy"), ("shop-green", "running", "healthy"),
                                                ("shop-proxy", "running", nil)])
    static let ourNetwork = #"[{"Labels":{"io.bgctl.project":"shop"},"IPAM":{"Config":[{"Subnet":"172.29.7.0/24"}]}}]"#

    /// The commands that changed something, as "verb name" strings.
    func mutations() -> [String] {
        runner.calls.compactMap { args -> String? in
            switch args.first {
            case "run": return "run " + (args.firstIndex(of: "--name").map { args[$0 + 1] } ?? "?")
            case "rm", "stop", "start": return "\(args[0]) \(args.last!)"
            case "kill": return "kill \(args.last!)"
            case "network" where args[1] != "inspect": return "network \(args[1])"
            default: return nil
            }
        }
    }

    @Test func upOnAFreshHostRunsExactlyThePlannedCommandsAndRecordsIt() throws {
        scriptUpOnFreshHost(runner, http)
        let stack = try Fixture.stack(runner: runner, http: http, stateDir: stateDir)
        let summary = try stack.up(lockWait: 1)
        #expect(summary.changed && summary.live == .blue)
        let changes = mutations()
        #expect(changes.first == "network create" && changes.last == "run shop-proxy")
        #expect(Set(changes.dropFirst().dropLast()) == ["run shop-blue", "run shop-green"])
        #expect(stack.currentFiles() == stack.renderer.render(stack.spec).files)
        #expect(stack.readRoute() == .route(Route(live: .blue)), "written before the proxy started")
        #expect(try stack.store.load()?.live == .blue)
        #expect(stack.store.history().map(\.action) == ["up"])
        #expect(runner.unscripted.isEmpty)
    }

    @Test func aDryRunHandsOverThePlanARealRunWouldExecuteAndChangesNothing() throws {
        runner.on(["version"], CommandResult(status: 0, stdout: "20.10.24\n"))
        runner.on(["container", "inspect"], CommandResult(status: 1, stdout: "[]", stderr: "Error: No such container: shop-blue"))
        runner.on(["network", "inspect"], CommandResult(status: 1, stderr: "Error: No such network: shop-net"))
        runner.on(["ps", "--all"], CommandResult(status: 0, stdout: ""))
        http.on(":8081/healthz", ScriptedHTTP.ok())
        http.on(":8082/healthz", ScriptedHTTP.ok())
        var stack = try Fixture.stack(runner: runner, http: http, stateDir: stateDir)
        let printed = PlanBox()
        stack.dryRun = { printed.add($0) }
        let summary = try stack.up(lockWait: 1)
        #expect(printed.plans == [summary.plan], "the dry run printed the plan the operation decided")
        #expect(summary.plan.names.first == "create-network")
        #expect(mutations().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: stack.paths.stateFile) && !FileManager.default.fileExists(atPath: stack.paths.lockFile))
    }

    @Test func downDrainsTheProxyRemovesEverythingAndForgetsTheLivePool() throws {
        runner.on(["version"], CommandResult(status: 0, stdout: "20.10.24\n"))
        runner.on(["container", "inspect"], CommandResult(status: 0, stdout: Self.allRunning))
        runner.on(["network", "inspect"], CommandResult(status: 0, stdout: Self.ourNetwork))
        runner.on(["ps", "--all"], CommandResult(status: 0, stdout: ""))
        runner.on(["stop"], CommandResult(status: 0))
        runner.on(["rm"], CommandResult(status: 0))
        runner.on(["network", "rm"], CommandResult(status: 0))
        let stack = try Fixture.stack(runner: runner, http: http, stateDir: stateDir)
        try stack.store.save(StackState(project: "shop", live: .green, updatedAt: "t", lastSwitch: nil))
        let plan = try stack.down(purge: false, lockWait: 1)
        #expect(plan.names.first == "drain-proxy")
        #expect(mutations() == ["stop shop-proxy", "rm shop-proxy", "rm shop-blue", "rm shop-green", "network rm"])
        #expect(try stack.store.load() == nil)
        #expect(stack.store.history().map(\.action) == ["down"])
    }

    @Test func aReleaseFailingItsAnalysisIsSwitchedBackAndTheVerdictRecorded() throws {
        scriptDeployOnRunningStack(runner, http)
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"), ScriptedHTTP.ok(pool: "blue"))
        var stack = try Fixture.stack(runner: runner, http: http, stateDir: stateDir)
        let log = ScriptedLog()
        log.figures = AnalysisFigures(requests: 100, errors: 40)
        stack.ports.accessLog = { _ in log }
        try stack.writeLive(Route(live: .blue))
        try stack.store.save(StackState(project: "shop", live: .blue, updatedAt: "t", lastSwitch: nil))
        var request = DeployRequest(image: "shop:3")
        request.analyze = 30
        let outcome = try stack.deploy(request, lockWait: 1)
        #expect(outcome.result == .rolledBack && outcome.reason.contains("error rate 40.0%"))
        #expect(mutations() == ["rm shop-green", "run shop-green"],
                "no reload: the staged release changes nothing nginx reads; the switch and the switch back are renames")
        #expect(stack.readRoute() == .route(Route(live: .blue)))
        let state = try #require(try stack.store.load())
        #expect(state.live == .blue && state.deployed?["green"]?.image == "shop:3")
        let history = stack.store.history()
        #expect(history.map(\.action) == ["switch", "switch", "deploy"])
        #expect(history.last?.result == "rolled_back" && history.last?.figures?["errors"] == 40)
        #expect(stack.currentFiles() == stack.renderer.render(state.apply(to: stack.spec)).files,
                "blue serves again; the configuration names the release that stays on green")
    }

    @Test func aRollbackThatFailsTooIsReportedAsSuch() throws {
        runner.on(["version"], CommandResult(status: 0, stdout: "20.10.24\n"))
        runner.on(["container", "inspect"], CommandResult(status: 0, stdout: Self.allRunning))
        runner.on(["top"], CommandResult(status: 0, stdout: "PID CMD\n"))
        runner.on(["rm"], CommandResult(status: 0))
        runner.on(["run"], CommandResult(status: 0))
        runner.on(["exec", "shop-proxy", "/usr/sbin/nginx"], CommandResult(status: 0))
        // The switch to green reloads (the staged release's name); the switch back is a rename that the
        // proxy never follows (it keeps answering from green), so the rollback fails and its route is put back.
        runner.on(["kill", "--signal", "HUP", "shop-proxy"], CommandResult(status: 0))
        http.on(":8081/healthz", ScriptedHTTP.ok())
        http.on(":8082/healthz", ScriptedHTTP.ok())
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        var stack = try Fixture.stack(runner: runner, http: http, stateDir: stateDir)
        let log = ScriptedLog()
        log.figures = AnalysisFigures(requests: 100, errors: 40)
        stack.ports.accessLog = { _ in log }
        try stack.writeLive(Route(live: .blue))
        try stack.store.save(StackState(project: "shop", live: .blue, updatedAt: "t", lastSwitch: nil))
        let outcome = try stack.deploy(DeployRequest(image: "shop:3"), lockWait: 1)
        #expect(outcome.result == .rollbackFailed && outcome.reason.contains("the rollback to blue failed too"))
        #expect(stack.readRoute() == .route(Route(live: .green)), "the route the failed rollback found")
        #expect(stack.store.history().last?.result == "rollback_failed")
        #expect(stack.journal.read() != nil, "a restore that failed leaves the journal: the next command recovers")
    }
}

final class PlanBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Plan] = []
    var plans: [Plan] { lock.withLock { stored } }
    func add(_ plan: Plan) { lock.withLock { stored.append(plan) } }
}
