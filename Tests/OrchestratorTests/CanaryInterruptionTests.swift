import Foundation
import Testing
import NginxConfigGen
import Watcher
@testable import Orchestrator

/// Signals and crashes during a canary: every weight change is journaled before it acts, and whatever
/// stops the canary — a signal, a SIGKILL, a power cut — resolves to the baseline pool alone (the
/// canary's weight 0, as a rollback does), with the weights cleared from state.json.
@Suite struct CanaryInterruptionTests {
    let runner = ScriptedRunner()
    let http = ScriptedHTTP()
    let signal = FakeSignal()
    let stateDir = Fixture.tempDir()
    let log = ScriptedLog()
    static let routing = CanaryRouting(pool: .green, percent: 25)

    init() {
        scriptDeployOnRunningStack(runner, http, top: "PID CMD\n")
        log.pools = [.green: CanaryExecutorTests.healthyCanary, .blue: CanaryExecutorTests.healthyBaseline]
    }

    func stack() throws -> Stack {
        var stack = try Fixture.stack(runner: runner, http: http, stateDir: stateDir)
        let signal = self.signal, log = self.log
        stack.ports.cancelled = { signal.isRaised }
        stack.ports.accessLog = { _ in log }
        try stack.writeLive(Route(live: .blue))
        try stack.store.save(StackState(project: "shop", live: .blue, updatedAt: "t", lastSwitch: nil))
        return stack
    }

    func request(_ steps: [Int] = [5, 25]) -> DeployRequest {
        var request = DeployRequest(image: "shop:3")
        request.canary = steps
        request.step = 60
        return request
    }

    func reloads() -> Int { runner.calls(startingWith: ["kill", "--signal", "HUP"]).count }

    /// A stack a dead bgctl left in the middle of a canary: `route` in force (the 25% canary unless
    /// said otherwise), state.json with `weights`.
    func interruptedCanary(current: String, route: Route = Route(live: .blue, canary: routing), weights: CanaryRouting? = routing) throws -> Stack {
        let stack = try stack()
        try stack.installRoute(route)
        try stack.store.save(StackState(project: "shop", live: .blue, updatedAt: "t", lastSwitch: nil, canary: weights))
        var entry = JournalEntry(operation: "deploy", title: "deploy shop:3 to green", pid: 999_999, who: "ci", started: "t",
                                 from: .blue, to: .green, image: "shop:3", release: "3")
        entry.done = ["stage/start-green", "stage/record-release", "canary-5/route", "canary-5/stage", "canary-5/nginx-test", "canary-5/install",
                      "canary-5/reload", "canary-5/verify", "canary-5/record", "canary-5/analyse", "canary-5/record-step", "canary-25/route"]
        entry.current = current
        try stack.journal.write(entry)
        return stack
    }

    /// Latches `signal` once the journal shows `step` as the one running: the next step's safe point sees it.
    func raise(after step: String, in stack: Stack) -> @Sendable () -> Bool {
        let spy = JournalSpy(path: stack.paths.journalFile), signal = self.signal
        return {
            spy.look()
            if spy.currents.last == step { signal.raise() }
            return signal.isRaised
        }
    }

    /// The route folders in nginx/route/: the one in force and the one before it.
    func routeFolders(_ stack: Stack) -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: stack.paths.routeDir)) ?? []).subtracting([Route.currentLink])
    }

    @Test func everyWeightChangeIsJournaledBeforeItActs() throws {
        let stack = try stack()
        let seen = JournalSpy(path: stack.paths.journalFile)
        runner.onCall = { _ in seen.look() }
        http.onGet = { url in if url.hasSuffix(":8080/healthz") { seen.look() } }
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        _ = try stack.deploy(request(), lockWait: 1)
        // No step tests or reloads a configuration: the release staged on green changes nothing nginx reads.
        #expect(seen.entries.contains { $0.current == "canary-5/verify" && $0.done.contains("canary-5/route") })
        #expect(!seen.currents.contains { $0.hasSuffix("/nginx-test") || $0.hasSuffix("/reload") })
        #expect(seen.entries.contains { $0.current == "canary-25/verify" && $0.done.contains("canary-25/route") && $0.done.contains("canary-5/record-step") })
        #expect(seen.entries.contains { $0.current == "promote/verify" && $0.done.contains("promote/route") })
    }

    @Test func aSignalDuringAStepsAnalysisSetsTheCanarysWeightToZeroAndRecordsAborted() throws {
        let stack = try stack()
        let signal = self.signal
        // The 5% step's verify through the proxy is the last probe before its analysis: the signal arrives then.
        http.onGet = { url in if url.hasSuffix(":8080/healthz") { signal.raise() } }
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"), ScriptedHTTP.ok(pool: "blue"))
        let outcome = try stack.deploy(request(), lockWait: 1)
        #expect(outcome.result == .aborted && outcome.reason.hasPrefix("aborted by a signal after 0 s at 5%"), "\(outcome.reason)")
        #expect(reloads() == 0, "the 5% step and weight 0 are renames")
        #expect(stack.readRoute() == .route(Route(live: .blue)), "weight 0 although the signal was still raised")
        let state = try #require(try stack.store.load())
        #expect(state.live == .blue && state.weights == nil)
        #expect(stack.currentFiles() == stack.renderer.render(state.apply(to: stack.spec)).files)
        #expect(stack.store.history().map { "\($0.action) \($0.result)" } == ["canary aborted", "deploy aborted"])
        #expect(stack.journal.read() == nil)
    }

    @Test func aSignalBeforeTheFirstWeightsRouteGivesTheCanaryNoTraffic() throws {
        var stack = try stack()
        stack.ports.cancelled = raise(after: "stage/record-release", in: stack)
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"))
        let outcome = try stack.deploy(request(), lockWait: 1)
        #expect(outcome.result == .aborted && outcome.reason.hasPrefix("stopped by a signal before the 5% step's route"), "\(outcome.reason)")
        #expect(outcome.steps.isEmpty)
        #expect(reloads() == 0, "the release staged on green changes nothing nginx reads")
        let state = try #require(try stack.store.load())
        #expect(state.live == .blue && state.weights == nil)
        #expect(stack.readRoute() == .route(Route(live: .blue)) && routeFolders(stack) == ["blue"], "no canary route was ever written")
    }

    @Test func aSignalBeforeThePromotionsRouteKeepsTheBaseline() throws {
        var stack = try stack()
        stack.ports.cancelled = raise(after: "canary-25/record-step", in: stack)
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"), ScriptedHTTP.ok(pool: "green"), ScriptedHTTP.ok(pool: "blue"))
        let outcome = try stack.deploy(request(), lockWait: 1)
        #expect(outcome.result == .aborted && outcome.reason.hasPrefix("stopped by a signal before the promotion's route"), "\(outcome.reason)")
        #expect(outcome.steps.map(\.result) == ["passed", "passed"])
        #expect(try stack.store.load()?.live == .blue && (try stack.store.load()?.weights) == nil)
        #expect(stack.readRoute() == .route(Route(live: .blue)))
        #expect(!routeFolders(stack).contains("green"), "never the promotion")
        #expect(reloads() == 0, "every step is a rename")
    }

    @Test func aCanaryKilledDuringAStepIsPutBackOnTheBaselineByTheNextCommand() throws {
        let stack = try interruptedCanary(current: "canary-25/analyse")
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"))
        let recovery = try #require(try stack.recover(lockWait: 1))
        #expect(recovery.outcome == "switched back: blue is live")
        #expect(reloads() == 0 && stack.readRoute() == .route(Route(live: .blue)), "weight 0 is a rename")
        let state = try #require(try stack.store.load())
        #expect(state.live == .blue && state.weights == nil)
        #expect(stack.currentFiles() == stack.renderer.render(stack.spec).files)
        let last = try #require(stack.store.history().last)
        #expect(last.action == "deploy" && last.result == "aborted" && last.release == "3")
        #expect(stack.journal.read() == nil)
    }

    @Test func aCanaryKilledAfterItsWeightZeroWasInstalledOnlyClearsTheWeights() throws {
        // The rollback's configuration is in place; the record of it never happened.
        let stack = try interruptedCanary(current: "rollback/route", route: Route(live: .blue))
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"))
        _ = try #require(try stack.recover(lockWait: 1))
        #expect(reloads() == 0 && stack.readRoute() == .route(Route(live: .blue)), "the proxy already routes every request to blue")
        #expect(try stack.store.load()?.weights == nil)
    }

    @Test func aCanaryKilledBetweenAWeightsInstallAndItsRecordIsPutBackWithoutARepair() throws {
        // The 25% configuration is live; state.json never heard of it.
        let stack = try interruptedCanary(current: "canary-25/verify", weights: nil)
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"))
        let recovery = try #require(try stack.recover(lockWait: 1))
        #expect(recovery.outcome == "switched back: blue is live")
        #expect(reloads() == 0 && stack.readRoute() == .route(Route(live: .blue)))
        #expect(stack.currentFiles() == stack.renderer.render(stack.spec).files)
        #expect(stack.store.history().map(\.action) == ["deploy"], "weight 0, not a repair")
    }

    @Test func aCanaryKilledDuringItsPromotionResolvesToTheBaselineToo() throws {
        // The promotion renamed the route to green alone; state.json still has the 25% weights.
        let spec = try Fixture.spec()
        let stack = try interruptedCanary(current: "promote/verify", route: Route(live: .green))
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"))
        let recovery = try #require(try stack.recover(lockWait: 1))
        #expect(recovery.outcome == "switched back: blue is live")
        #expect(try stack.store.load()?.live == .blue && (try stack.store.load()?.weights) == nil)
        #expect(stack.currentFiles() == stack.renderer.render(spec).files)
        #expect(stack.readRoute() == .route(Route(live: .blue)))
    }

    @Test func statusShowsTheWeightsAndTakesTheCanarysShareForNoFailover() throws {
        let stack = try interruptedCanary(current: "canary-25/analyse")
        try stack.journal.remove()
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        let status = try stack.status()
        #expect(status.weights == ["blue": 75, "green": 25])
        #expect(status.proxy.configInSync, "one configuration serves every route")
        #expect(!status.problems.contains { $0.contains("state.json") }, "state.json records the route in force: \(status.problems)")
        #expect(!status.problems.contains { $0.contains("failover") }, "\(status.problems)")
    }
}
