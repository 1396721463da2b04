import Foundation
import Testing
import HTTPClient
import NginxConfigGen
@testable import Orchestrator

@Suite struct SwitchTests {
    let runner = ScriptedRunner()
    let http = ScriptedHTTP()
    let stateDir = Fixture.tempDir()

    init() throws {
        runner.on(["version"], CommandResult(status: 0, stdout: "20.10.24\n"))
        runner.on(["container", "inspect"], CommandResult(status: 0, stdout: Fixture.inspectJSON([("shop-green", "running", "healthy"), ("shop-proxy", "running", "healthy")])))
        // Only a stack whose configuration predates routes runs these: a switch by route runs no nginx.
        runner.on(["exec", "shop-proxy", "/usr/sbin/nginx"], CommandResult(status: 0))
        runner.on(["kill", "--signal", "HUP", "shop-proxy"], CommandResult(status: 0))
        http.on(":8082/healthz", ScriptedHTTP.ok())
        // Unless a test says otherwise, the proxy answers from blue.
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"))
    }

    /// A stack as up leaves it today: blue live by the route, recorded in state.json.
    func stack() throws -> Stack {
        let stack = try Fixture.stack(runner: runner, http: http, stateDir: stateDir)
        try stack.writeLive(Route(live: .blue))
        try stack.store.save(StackState(project: "shop", live: .blue, updatedAt: "t", lastSwitch: nil))
        return stack
    }

    /// A stack made by a release before routes: its configuration names blue and reads no route.
    func stackBeforeRoutes() throws -> Stack {
        let stack = try Fixture.stack(runner: runner, http: http, stateDir: stateDir)
        try stack.writeLiveBeforeRoutes()
        try stack.store.save(StackState(project: "shop", live: .blue, updatedAt: "t", lastSwitch: nil))
        // The reload waits for the old workers: this proxy has none to wait for.
        runner.on(["top", "shop-proxy"], proxyTop([]))
        return stack
    }

    /// The proxy commands run, in order: "test" for nginx -t, "exec" for any other, "reload" for SIGHUP,
    /// "top" for a listing of its processes.
    func nginxCalls() -> [String] {
        runner.calls.compactMap { args in
            if args.starts(with: ["exec", "shop-proxy"]) { return args.last == "-t" ? "test" : "exec" }
            if args.first == "kill" { return "reload" }
            if args.first == "top" { return "top" }
            return nil
        }
    }

    func liveFiles(_ stack: Stack) -> [String: String] { stack.currentFiles() }

    func rendered(_ stack: Stack) -> [String: String] { stack.renderer.render(stack.spec).files }

    @Test func aSwitchMovesTheRouteVerifiesAndRecordsWithoutReloading() throws {
        let stack = try stack()
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        let outcome = try stack.switchTo(.init(target: .green, reason: "release v2", force: false), lockWait: 1)
        #expect(outcome.from == .blue && outcome.to == .green && !outcome.alreadyLive)
        #expect(outcome.plan.names == ["route", "verify", "record"])
        #expect(nginxCalls().isEmpty, "no nginx -t, no reload, no docker exec or kill")
        #expect(runner.unscripted.isEmpty)
        #expect(stack.readRoute() == .route(Route(live: .green)))
        #expect(liveFiles(stack) == rendered(stack), "the configuration is the same bytes for every route")
        #expect(!FileManager.default.fileExists(atPath: stack.paths.nextDir))
        let state = try #require(try stack.store.load())
        #expect(state.live == .green)
        #expect(state.lastSwitch?.reason == "release v2" && state.lastSwitch?.who == "tester")
        #expect(stack.store.history().map(\.action) == ["switch"])
    }

    @Test func aSwitchGivesTheWatchersFolderTheNewLivePoolAndNothingElse() throws {
        let stack = try stack()
        try FileManager.default.createDirectory(atPath: stack.paths.watcherDir, withIntermediateDirectories: true)
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        try stack.switchTo(.init(target: .green, reason: nil, force: false), lockWait: 1)
        let data = try #require(FileManager.default.contents(atPath: stack.paths.watcherPoolsFile))
        #expect(String(decoding: data, as: UTF8.self) == #"{"live":"green"}"# + "\n")
    }

    @Test func withoutAWatcherFolderNoPoolsFileIsWritten() throws {
        let stack = try stack()
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        try stack.switchTo(.init(target: .green, reason: nil, force: false), lockWait: 1)
        #expect(try stack.store.load()?.live == .green)
        #expect(!FileManager.default.fileExists(atPath: stack.paths.watcherDir))
    }

    @Test func theFirstSwitchOnAStackMadeBeforeRoutesWritesTheRouteAndReloadsOnceAndLaterSwitchesOnlyRename() throws {
        let stack = try stackBeforeRoutes()
        #expect(stack.readRoute() == .missing)
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        let first = try stack.switchTo(.init(target: .green, reason: nil, force: false), lockWait: 1)
        #expect(first.plan.names == ["route", "stage", "nginx-test", "install", "reload", "verify", "remember-tested", "record"])
        #expect(nginxCalls() == ["test", "top", "reload"], "one nginx -t, one reload; the listing before it shows no worker to wait for")
        #expect(liveFiles(stack) == rendered(stack) && stack.readRoute() == .route(Route(live: .green)))
        http.on(":8081/healthz", ScriptedHTTP.ok())
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"))
        runner.on(["container", "inspect"], CommandResult(status: 0, stdout: ExecutorTests.allRunning))
        #expect(try stack.switchTo(.init(target: .blue, reason: nil, force: false), lockWait: 1).plan.names == ["route", "verify", "record"])
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        try stack.switchTo(.init(target: .green, reason: nil, force: false), lockWait: 1)
        #expect(nginxCalls().filter { $0 != "top" } == ["test", "reload"], "converted: the later switches rename and nothing else")
        #expect(stack.readRoute() == .route(Route(live: .green)) && stack.store.history().map(\.action) == ["switch", "switch", "switch"])
    }

    @Test func aReloadFailureRestoresThePreviousFiles() throws {
        let stack = try stackBeforeRoutes()
        let before = liveFiles(stack)
        runner.on(["kill", "--signal", "HUP", "shop-proxy"],
                  CommandResult(status: 1, stderr: "Error response from daemon: Container shop-proxy is restarting"), CommandResult(status: 0))
        #expect {
            try stack.switchTo(.init(target: .green, reason: nil, force: false), lockWait: 1)
        } throws: { error in
            guard case OrchestratorError.switchFailed(let step, _, let restored) = error else { return false }
            return step == "reload" && restored
        }
        #expect(liveFiles(stack) == before)
        #expect(nginxCalls().filter { $0 != "top" } == ["test", "reload", "reload"])
        #expect(try stack.store.load()?.live == .blue, "a failed switch records no new state")
        #expect(stack.store.history().isEmpty)
    }

    @Test func aVerifyFailureAfterTheRouteMovedPutsThePreviousRouteBack() throws {
        let stack = try stack()
        // The proxy keeps answering from blue: the route never took.
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"))
        #expect {
            try stack.switchTo(.init(target: .green, reason: nil, force: false), lockWait: 1)
        } throws: { error in
            guard case OrchestratorError.switchFailed(let step, let detail, let restored) = error else { return false }
            return step == "verify" && restored && detail.contains("from blue")
        }
        #expect(stack.readRoute() == .route(Route(live: .blue)))
        #expect(liveFiles(stack) == rendered(stack))
        #expect(nginxCalls().isEmpty, "putting a route back is a rename too")
        #expect(try stack.store.load()?.live == .blue && stack.store.history().isEmpty)
        #expect(stack.journal.read() == nil, "restored: nothing left to recover")
    }

    @Test func aVerifyFailureOnAStackMadeBeforeRoutesRestoresAndReloadsThePreviousFiles() throws {
        let stack = try stackBeforeRoutes()
        let before = liveFiles(stack)
        #expect {
            try stack.switchTo(.init(target: .green, reason: nil, force: false), lockWait: 1)
        } throws: { error in
            guard case OrchestratorError.switchFailed(let step, let detail, let restored) = error else { return false }
            return step == "verify" && restored && detail.contains("from blue")
        }
        #expect(liveFiles(stack) == before)
        #expect(nginxCalls().filter { $0 != "top" } == ["test", "reload", "reload"])
    }

    @Test func aConfigurationNginxRejectsPutsTheRouteBackAndChangesNoFile() throws {
        let stack = try stack()
        // A spec changed since up: the configuration is applied with the switch, and nginx rejects it.
        var files = liveFiles(stack)
        files[RenderedConfig.siteFile] = "# rendered from an older spec\n" + (files[RenderedConfig.siteFile] ?? "")
        try AtomicWriter.write(RenderedConfig(files: files), into: stack.paths.nginxDir)
        runner.on(["exec", "shop-proxy", "/usr/sbin/nginx", "-p", "/bgctl/", "-e", "stderr", "-c", "/bgctl/conf/next/nginx.conf", "-t"],
                  CommandResult(status: 1, stderr: "nginx: [emerg] unknown directive \"bogus\""))
        #expect {
            try stack.switchTo(.init(target: .green, reason: nil, force: false), lockWait: 1)
        } throws: { error in
            guard case OrchestratorError.switchFailed(let step, let detail, let restored) = error else { return false }
            return step == "nginx-test" && detail.contains("unknown directive") && restored
        }
        #expect(liveFiles(stack) == files)
        #expect(stack.readRoute() == .route(Route(live: .blue)))
        #expect(nginxCalls() == ["test"], "no reload after a rejected test")
        #expect(!FileManager.default.fileExists(atPath: stack.paths.nextDir))
    }

    @Test func anUnhealthyTargetIsRefusedBeforeAnythingChanges() throws {
        runner.on(["container", "inspect"], CommandResult(status: 0, stdout: Fixture.inspectJSON([("shop-green", "running", "unhealthy"), ("shop-proxy", "running", "healthy")])))
        let stack = try stack()
        #expect {
            try stack.switchTo(.init(target: .green, reason: nil, force: false), lockWait: 1)
        } throws: { error in
            "\(error)".contains("green (shop-green) is not healthy") && "\(error)".contains("traffic stays on blue")
        }
        #expect(nginxCalls().isEmpty)
        #expect(stack.readRoute() == .route(Route(live: .blue)))
        #expect(liveFiles(stack) == rendered(stack))
        #expect(!FileManager.default.fileExists(atPath: stack.paths.nextDir))
    }

    @Test func aTargetFailingItsHTTPProbeIsRefused() throws {
        http.on(":8082/healthz", ScriptedHTTP.ok(status: 503))
        let stack = try stack()
        #expect(throws: OrchestratorError.self) { try stack.switchTo(.init(target: .green, reason: nil, force: false), lockWait: 1) }
        #expect(nginxCalls().isEmpty)
        #expect(stack.readRoute() == .route(Route(live: .blue)))
    }

    @Test func switchingToTheLivePoolDoesNothing() throws {
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"))
        let stack = try stack()
        let outcome = try stack.switchTo(.init(target: .blue, reason: nil, force: false), lockWait: 1)
        #expect(outcome.alreadyLive)
        #expect(nginxCalls().isEmpty)
        #expect(stack.readRoute() == .route(Route(live: .blue)) && stack.store.history().isEmpty)
    }

    @Test func aSecondOperationWaitsForTheLockAndNamesItsHolder() throws {
        let stack = try stack()
        let held = try StackLock.acquire(stack.paths, holder: .init(pid: 4242, who: "alice", command: "deploy", since: "then"), wait: 0)
        #expect(StackLock.currentHolder(stack.paths)?.who == "alice")
        #expect {
            try stack.switchTo(.init(target: .green, reason: nil, force: false), lockWait: 0.2)
        } throws: { error in
            "\(error)".contains("deploy by alice (pid 4242)")
        }
        held.release()
        #expect(StackLock.currentHolder(stack.paths) == nil)
    }
}
