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
        runner.on(["exec", "shop-proxy", "/usr/sbin/nginx"], CommandResult(status: 0))
        runner.on(["kill", "--signal", "HUP", "shop-proxy"], CommandResult(status: 0))
        http.on(":8082/healthz", ScriptedHTTP.ok())
        // Before the reload the proxy still answers from blue; afterwards from green.
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"))
    }

    func stack() throws -> Stack {
        let stack = try Fixture.stack(runner: runner, http: http, stateDir: stateDir)
        let live = stack.renderer.render(stack.spec, live: .blue)
        try AtomicWriter.write(live, into: stack.paths.nginxDir)
        return stack
    }

    /// The proxy commands run, in order: "test" for nginx -t, "reload" for SIGHUP.
    func nginxCalls() -> [String] {
        runner.calls.compactMap { args in
            if args.starts(with: ["exec", "shop-proxy"]) { return args.last == "-t" ? "test" : "exec" }
            if args.starts(with: ["kill", "--signal", "HUP"]) { return "reload" }
            return nil
        }
    }

    func liveFiles(_ stack: Stack) -> [String: String] { stack.currentFiles() }

    @Test func aSwitchTestsReloadsVerifiesAndRecords() throws {
        let stack = try stack()
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"), ScriptedHTTP.ok(pool: "green"))
        let outcome = try stack.switchTo(.init(target: .green, reason: "release v2", force: false), lockWait: 1)
        #expect(outcome.from == .blue && outcome.to == .green && !outcome.alreadyLive)
        #expect(nginxCalls() == ["test", "reload"])
        #expect(runner.unscripted.isEmpty)
        #expect(liveFiles(stack) == stack.renderer.render(stack.spec, live: .green).files)
        #expect(!FileManager.default.fileExists(atPath: stack.paths.nextDir))
        let state = try #require(try stack.store.load())
        #expect(state.live == .green)
        #expect(state.lastSwitch?.reason == "release v2" && state.lastSwitch?.who == "tester")
        #expect(stack.store.history().map(\.action) == ["switch"])
    }

    @Test func aSwitchGivesTheWatchersFolderTheNewLivePoolAndNothingElse() throws {
        let stack = try stack()
        try FileManager.default.createDirectory(atPath: stack.paths.watcherDir, withIntermediateDirectories: true)
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"), ScriptedHTTP.ok(pool: "green"))
        try stack.switchTo(.init(target: .green, reason: nil, force: false), lockWait: 1)
        let data = try #require(FileManager.default.contents(atPath: stack.paths.watcherPoolsFile))
        #expect(String(decoding: data, as: UTF8.self) == #"{"live":"green"}"# + "\n")
    }

    @Test func withoutAWatcherFolderNoPoolsFileIsWritten() throws {
        let stack = try stack()
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"), ScriptedHTTP.ok(pool: "green"))
        try stack.switchTo(.init(target: .green, reason: nil, force: false), lockWait: 1)
        #expect(try stack.store.load()?.live == .green)
        #expect(!FileManager.default.fileExists(atPath: stack.paths.watcherDir))
    }

    @Test func switchingBackToBytesThisProxyAcceptedSkipsTheSecondTest() throws {
        let stack = try stack()
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"), ScriptedHTTP.ok(pool: "green"))
        try stack.switchTo(.init(target: .green, reason: nil, force: false), lockWait: 1)
        http.on(":8081/healthz", ScriptedHTTP.ok())
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"))
        runner.on(["container", "inspect"], CommandResult(status: 0, stdout: Fixture.inspectJSON([("shop-blue", "running", "healthy"), ("shop-green", "running", "healthy"), ("shop-proxy", "running", "healthy")])))
        try stack.switchTo(.init(target: .blue, reason: nil, force: false), lockWait: 1)
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"), ScriptedHTTP.ok(pool: "green"))
        try stack.switchTo(.init(target: .green, reason: nil, force: false), lockWait: 1)
        #expect(nginxCalls() == ["test", "reload", "test", "reload", "reload"],
                "blue-live bytes were never tested in this container; green-live bytes were")
    }

    @Test func aReloadFailureRestoresThePreviousFiles() throws {
        let stack = try stack()
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
        #expect(nginxCalls() == ["test", "reload", "reload"])
        #expect(try stack.store.load() == nil, "a failed switch records no new state")
    }

    @Test func aVerifyFailureRestoresAndReloadsThePreviousFiles() throws {
        let stack = try stack()
        let before = liveFiles(stack)
        #expect {
            try stack.switchTo(.init(target: .green, reason: nil, force: false), lockWait: 1)
        } throws: { error in
            guard case OrchestratorError.switchFailed(let step, let detail, let restored) = error else { return false }
            return step == "verify" && restored && detail.contains("from blue")
        }
        #expect(liveFiles(stack) == before)
        #expect(nginxCalls() == ["test", "reload", "reload"])
    }

    @Test func aConfigurationNginxRejectsChangesNothing() throws {
        let stack = try stack()
        let before = liveFiles(stack)
        runner.on(["exec", "shop-proxy", "/usr/sbin/nginx", "-p", "/bgctl/", "-e", "stderr", "-c", "/bgctl/conf/next/nginx.conf", "-t"],
                  CommandResult(status: 1, stderr: "nginx: [emerg] unknown directive \"bogus\""))
        #expect {
            try stack.switchTo(.init(target: .green, reason: nil, force: false), lockWait: 1)
        } throws: { error in
            guard case OrchestratorError.configRejected(let detail) = error else { return false }
            return detail.contains("unknown directive")
        }
        #expect(liveFiles(stack) == before)
        #expect(nginxCalls() == ["test"], "no reload after a rejected test")
    }

    @Test func anUnhealthyTargetIsRefusedBeforeAnythingChanges() throws {
        runner.on(["container", "inspect"], CommandResult(status: 0, stdout: Fixture.inspectJSON([("shop-green", "running", "unhealthy"), ("shop-proxy", "running", "healthy")])))
        let stack = try stack()
        #expect {
            try stack.switchTo(.init(target: .green, reason: nil, force: false), lockWait: 1)
        } throws: { error in
            "\(error)".contains("green (shop-green) is not healthy") && "\(error)".contains("traffic stays on blue")
        }
        #expect(!nginxCalls().contains("reload"), "nginx -t may run alongside the check; nothing is reloaded")
        #expect(liveFiles(stack) == stack.renderer.render(stack.spec, live: .blue).files)
        #expect(!FileManager.default.fileExists(atPath: stack.paths.nextDir))
    }

    @Test func aTargetFailingItsHTTPProbeIsRefused() throws {
        http.on(":8082/healthz", ScriptedHTTP.ok(status: 503))
        let stack = try stack()
        #expect(throws: OrchestratorError.self) { try stack.switchTo(.init(target: .green, reason: nil, force: false), lockWait: 1) }
        #expect(!nginxCalls().contains("reload"))
        #expect(liveFiles(stack) == stack.renderer.render(stack.spec, live: .blue).files)
    }

    @Test func switchingToTheLivePoolDoesNothing() throws {
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"))
        let stack = try stack()
        let outcome = try stack.switchTo(.init(target: .blue, reason: nil, force: false), lockWait: 1)
        #expect(outcome.alreadyLive)
        #expect(nginxCalls().isEmpty)
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
