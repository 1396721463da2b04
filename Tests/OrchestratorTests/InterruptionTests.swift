import Foundation
import Testing
import NginxConfigGen
@testable import Orchestrator

/// Signals and crashes: an operation stops only at a safe point, journals each step before it acts,
/// and a journal left by a dead bgctl is finished or undone by the next command.
@Suite struct InterruptionTests {
    let runner = ScriptedRunner()
    let http = ScriptedHTTP()
    let signal = FakeSignal()
    let stateDir = Fixture.tempDir()

    init() {
        runner.on(["version"], CommandResult(status: 0, stdout: "20.10.24\n"))
        runner.on(["container", "inspect"], CommandResult(status: 0, stdout: ExecutorTests.allRunning))
        runner.on(["exec", "shop-proxy", "/usr/sbin/nginx"], CommandResult(status: 0))
        runner.on(["kill", "--signal", "HUP", "shop-proxy"], CommandResult(status: 0))
        http.on(":8081/healthz", ScriptedHTTP.ok())
        http.on(":8082/healthz", ScriptedHTTP.ok())
    }

    /// A stack with `live` in force; `beforeRoutes`: made by a release before routes (blue live), so
    /// a switch applies the configuration too.
    func stack(live: Pool = .blue, beforeRoutes: Bool = false) throws -> Stack {
        var stack = try Fixture.stack(runner: runner, http: http, stateDir: stateDir)
        let signal = self.signal
        stack.ports.cancelled = { signal.isRaised }
        if beforeRoutes {
            try stack.writeLiveBeforeRoutes()
            runner.on(["top", "shop-proxy"], proxyTop([]))
        } else {
            try stack.writeLive(Route(live: live))
        }
        try stack.store.save(StackState(project: "shop", live: live, updatedAt: "t", lastSwitch: nil))
        return stack
    }

    func reloads() -> Int { runner.calls(startingWith: ["kill", "--signal", "HUP"]).count }

    @Test func aSignalBeforeTheRouteStopsTheSwitchWithNothingChanged() throws {
        let stack = try stack()
        let signal = self.signal
        // The inspect is the last docker command before the route moves.
        runner.onCall = { args in if args.first == "container" { signal.raise() } }
        #expect(throws: OrchestratorError.cancelled(step: "route")) {
            try stack.switchTo(.init(target: .green), lockWait: 1)
        }
        #expect(stack.readRoute() == .route(Route(live: .blue)))
        #expect(stack.journal.read() == nil, "stopped at a safe point: nothing to recover")
        #expect(try stack.store.load()?.live == .blue)
    }

    @Test func aSignalAfterTheRouteMovedDoesNotStopTheSwitchBeforeItIsRecorded() throws {
        // Made before routes: nginx -t runs after the route was written, and the signal arrives then.
        let stack = try stack(beforeRoutes: true)
        let signal = self.signal
        runner.onCall = { args in if args.last == "-t" { signal.raise() } }
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        let outcome = try stack.switchTo(.init(target: .green), lockWait: 1)
        #expect(outcome.to == .green && signal.isRaised)
        #expect(reloads() == 1 && stack.readRoute() == .route(Route(live: .green)))
        #expect(try stack.store.load()?.live == .green)
        #expect(stack.store.history().map(\.action) == ["switch"])
        #expect(stack.journal.read() == nil)
    }

    @Test func theRouteIsJournaledBeforeItMovesAndDoneBeforeTheVerify() throws {
        let stack = try stack()
        let seen = JournalSpy(path: stack.paths.journalFile)
        http.onGet = { url in if url.hasSuffix(":8080/healthz") { seen.look() } }
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        _ = try stack.switchTo(.init(target: .green), lockWait: 1)
        #expect(seen.entries.first?.current == "switch/verify" && seen.entries.first?.done == ["switch/route"], "\(seen.entries)")
        #expect(seen.entries.allSatisfy { $0.operation == "switch" && $0.from == .blue && $0.to == .green })
        #expect(seen.entries.first?.moved == true, "the route moves traffic: the journal says so by itself")
    }

    @Test func aJournalThatSaysTrafficMovedIsFinishedWhateverItsStepsAreCalled() throws {
        let stack = try stack(live: .blue)
        try interruptedSwitch(stack, current: "switch/a-step-renamed-later", moved: true)
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        let recovery = try #require(try stack.recover(lockWait: 1))
        #expect(recovery.outcome == "finished: green is live")
        #expect(try stack.store.load()?.live == .green)
    }

    @Test func aJournalThatSaysNothingMovedIsClosedEvenAtAStepCalledInstall() throws {
        let stack = try stack(live: .blue)
        try interruptedSwitch(stack, current: "switch/install", moved: false)
        let recovery = try #require(try stack.recover(lockWait: 1))
        #expect(recovery.outcome == "nothing had changed: blue stays live")
    }

    @Test func everyStepIsJournaledBeforeItActs() throws {
        let stack = try stack(beforeRoutes: true)
        let seen = JournalSpy(path: stack.paths.journalFile)
        runner.onCall = { _ in seen.look() }
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        _ = try stack.switchTo(.init(target: .green), lockWait: 1)
        // When nginx -t runs, the journal says so; when the reload is sent, the route and the install are done.
        #expect(seen.currents.contains("switch/nginx-test"))
        #expect(seen.entries.contains { $0.current == "switch/reload" && $0.done.contains("switch/install") && $0.done.contains("switch/route") })
        #expect(seen.entries.allSatisfy { $0.operation == "switch" && $0.from == .blue && $0.to == .green })
    }

    /// An interrupted switch left in the journal, stopped at `current`.
    /// `moved` nil: as an older bgctl wrote it, without the field.
    func interruptedSwitch(_ stack: Stack, done: [String] = [], current: String, moved: Bool? = nil) throws {
        var entry = JournalEntry(operation: "switch", title: "switch blue → green", pid: 999_999, who: "ci", started: "12:03:04",
                                 from: .blue, to: .green)
        entry.done = done
        entry.current = current
        entry.moved = moved
        try stack.journal.write(entry)
    }

    @Test func aSwitchKilledRightAfterItsRenameIsRecordedByTheNextCommandWithoutMovingTraffic() throws {
        // The route serves green; state.json still says blue: what a SIGKILL right after the rename leaves.
        let stack = try stack(live: .green)
        try stack.store.save(StackState(project: "shop", live: .blue, updatedAt: "t", lastSwitch: nil))
        try interruptedSwitch(stack, current: "switch/route")
        #expect(stack.journal.interrupted()?.summary == "interrupted switch blue → green started at 12:03:04 by ci (pid 999999), while: switch/route")
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        let recovery = try #require(try stack.recover(lockWait: 1))
        #expect(recovery.outcome == "finished: green is live")
        #expect(try stack.store.load()?.live == .green)
        #expect(stack.readRoute() == .route(Route(live: .green)))
        #expect(runner.calls(startingWith: ["kill"]).isEmpty && runner.calls(startingWith: ["exec"]).isEmpty)
        #expect(stack.store.history().last?.action == "recover")
        #expect(stack.journal.read() == nil)
    }

    @Test func aSwitchKilledJustBeforeItsRenameIsFinishedByTheNextCommand() throws {
        let stack = try stack(live: .blue)
        try interruptedSwitch(stack, current: "switch/route")
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        let recovery = try #require(try stack.recover(lockWait: 1))
        #expect(recovery.outcome == "finished: green is live")
        #expect(try stack.store.load()?.live == .green && stack.readRoute() == .route(Route(live: .green)))
        #expect(stack.store.history().map(\.action) == ["switch", "recover"])
        #expect(reloads() == 0)
    }

    @Test func aSwitchKilledAfterTheReloadThatConvertedItsStackIsFinishedByTheNextCommand() throws {
        // The proxy serves green from the configuration that reads the route; state.json still says blue.
        let stack = try stack(live: .green)
        try interruptedSwitch(stack, done: ["switch/route", "switch/stage", "switch/nginx-test", "switch/install"], current: "switch/reload")
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        let recovery = try #require(try stack.recover(lockWait: 1))
        #expect(recovery.outcome == "finished: green is live")
        #expect(try stack.store.load()?.live == .green)
        #expect(reloads() == 0, "the files in nginx/ are already those bgctl renders")
        #expect(stack.journal.read() == nil)
    }

    @Test func aSwitchKilledBeforeItsInstallChangedNothingAndIsClosed() throws {
        let stack = try stack(live: .blue)
        var entry = JournalEntry(operation: "switch", title: "switch blue → green", pid: 999_999, who: "ci", started: "t", from: .blue, to: .green)
        entry.done = ["switch/stage"]
        entry.current = "switch/nginx-test"
        try stack.journal.write(entry)
        let recovery = try #require(try stack.recover(lockWait: 1))
        #expect(recovery.outcome == "nothing had changed: blue stays live")
        #expect(reloads() == 0)
        #expect(stack.store.history().last?.action == "recover")
    }

    @Test func aDeployKilledAfterItsSwitchGoesBackToThePreviousPoolAsAborted() throws {
        let stack = try stack(live: .green)
        var entry = JournalEntry(operation: "deploy", title: "deploy shop:3 to green", pid: 999_999, who: "ci", started: "t",
                                 from: .blue, to: .green, image: "shop:3", release: "3")
        entry.done = ["stage/start-green", "switch/stage", "switch/install", "switch/reload", "switch/verify", "switch/record"]
        entry.current = "analyse/analyse"
        try stack.journal.write(entry)
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"))
        let recovery = try #require(try stack.recover(lockWait: 1))
        #expect(recovery.outcome == "switched back: blue is live")
        #expect(try stack.store.load()?.live == .blue)
        let last = try #require(stack.store.history().last)
        #expect(last.action == "deploy" && last.result == "aborted" && last.release == "3")
    }

    @Test func aSignalDuringTheAnalysisSwitchesBackAndRecordsTheVerdictAborted() throws {
        runner.on(["top"], CommandResult(status: 0, stdout: "PID CMD\n"))
        runner.on(["rm"], CommandResult(status: 0))
        runner.on(["run"], CommandResult(status: 0))
        var stack = try stack(live: .blue)
        let log = ScriptedLog()
        log.figures = AnalysisFigures(requests: 12, errors: 0)
        stack.ports.accessLog = { _ in log }
        let signal = self.signal
        // The switch's verify through the proxy is the last probe before the analysis: the signal arrives then.
        http.onGet = { url in if url.hasSuffix(":8080/healthz") { signal.raise() } }
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"), ScriptedHTTP.ok(pool: "blue"))
        var request = DeployRequest(image: "shop:3")
        request.analyze = 60
        let outcome = try stack.deploy(request, lockWait: 1)
        #expect(outcome.result == .aborted && outcome.figures?.requests == 12)
        #expect(reloads() == 0, "the switch to green and the switch back are renames")
        #expect(stack.readRoute() == .route(Route(live: .blue)), "back to blue although the signal was still raised")
        #expect(try stack.store.load()?.live == .blue)
        let last = try #require(stack.store.history().last)
        #expect(last.action == "deploy" && last.result == "aborted" && last.figures?["requests"] == 12)
        #expect(stack.journal.read() == nil)
    }

    @Test func aSignalBeforeTheDeploysSwitchLeavesTheLivePoolUntouched() throws {
        runner.on(["top"], CommandResult(status: 0, stdout: "PID CMD\n"))
        runner.on(["rm"], CommandResult(status: 0))
        runner.on(["run"], CommandResult(status: 0))
        let stack = try stack(live: .blue)
        let signal = self.signal
        runner.onCall = { args in if args.first == "run" { signal.raise() } }
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"))
        let outcome = try stack.deploy(DeployRequest(image: "shop:3"), lockWait: 1)
        #expect(outcome.result == .aborted)
        // Stopped before the release was recorded: traffic never left blue and its configuration stands.
        #expect(reloads() == 0)
        #expect(stack.currentFiles() == stack.renderer.render(try #require(try stack.store.load()).apply(to: stack.spec)).files)
        #expect(try stack.store.load()?.live == .blue)
        #expect(stack.store.history().last?.result == "aborted")
    }

    @Test func aRestoreThatFailedLeavesTheJournalForTheNextCommand() throws {
        let stack = try stack(beforeRoutes: true)
        runner.on(["kill", "--signal", "HUP", "shop-proxy"], CommandResult(status: 1, stderr: "Error response from daemon: is restarting"))
        #expect(throws: OrchestratorError.switchFailed(step: "reload", detail: "the proxy did not take the reload signal: Error response from daemon: is restarting", restored: false)) {
            try stack.switchTo(.init(target: .green), lockWait: 1)
        }
        #expect(stack.journal.interrupted()?.to == .green)
    }

    @Test func aLockLeftByADeadHolderLeavesNoFileOnceLookedAt() throws {
        let stack = try stack()
        try "{\"pid\":999999,\"who\":\"ci\",\"command\":\"switch green\",\"since\":\"t\"}".write(toFile: stack.paths.lockInfoFile, atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: stack.paths.lockFile, contents: nil)
        #expect(StackLock.currentHolder(stack.paths) == nil)
        #expect(!FileManager.default.fileExists(atPath: stack.paths.lockInfoFile))
    }
}

/// Reads the journal each time docker is called: what a SIGKILL at that instant would leave.
final class JournalSpy: @unchecked Sendable {
    let path: String
    private let lock = NSLock()
    private var seen: [JournalEntry] = []

    init(path: String) { self.path = path }

    func look() {
        guard let data = FileManager.default.contents(atPath: path),
              let entry = try? JSONDecoder().decode(JournalEntry.self, from: data) else { return }
        lock.withLock { seen.append(entry) }
    }

    var entries: [JournalEntry] { lock.withLock { seen } }
    var currents: [String] { entries.compactMap(\.current) }
}

/// A journal whose operation can be neither finished nor undone must not lock the stack forever.
@Suite struct StuckRecoveryTests {
    let runner = ScriptedRunner()
    let http = ScriptedHTTP()
    let stateDir = Fixture.tempDir()

    func interruptedSwitchWithTheProxyDown() throws -> Stack {
        runner.on(["version"], CommandResult(status: 0, stdout: "20.10.24\n"))
        runner.on(["container", "inspect"], CommandResult(status: 0, stdout: Fixture.inspectJSON([
            ("shop-blue", "running", "healthy"), ("shop-green", "running", "healthy"), ("shop-proxy", "exited", nil)])))
        http.on(":8081/healthz", ScriptedHTTP.ok())
        http.on(":8082/healthz", ScriptedHTTP.ok())
        let stack = try Fixture.stack(runner: runner, http: http, stateDir: stateDir)
        try stack.store.save(StackState(project: "shop", live: .blue, updatedAt: "t", lastSwitch: nil))
        var entry = JournalEntry(operation: "switch", title: "switch blue → green", pid: 999_999, who: "ci", started: "t", from: .blue, to: .green)
        entry.current = "switch/install"
        try stack.journal.write(entry)
        return stack
    }

    @Test func recoverSaysWhatFailedKeepsTheJournalAndPointsToUp() throws {
        let stack = try interruptedSwitchWithTheProxyDown()
        #expect { try stack.recover(lockWait: 1) } throws: { error in
            "\(error)".contains("could not finish or undo the interrupted switch blue → green") && "\(error)".contains("Run bgctl up")
        }
        #expect(stack.journal.read() != nil)
    }

    @Test func upClearsAJournalItCannotRecoverAndRecordsWhy() throws {
        let stack = try interruptedSwitchWithTheProxyDown()
        // Up's own work is not under test here: it stops at its first docker change, which is not scripted.
        runner.strict = false
        _ = try? stack.up(lockWait: 1)
        #expect(stack.journal.read() == nil)
        let last = try #require(stack.store.history().first)
        #expect(last.action == "recover" && last.result == "failed")
    }
}
