import Foundation
import Testing
import NginxConfigGen
@testable import Orchestrator

/// A reload that is still needed (up after a spec change, a renewal, a stack converted to routes)
/// returns only once no worker of the configuration before accepts connections. Time is the fake clock.
@Suite struct ReloadWaitTests {
    let runner = ScriptedRunner()
    let clock = FakeClock()
    let stateDir = Fixture.tempDir()
    let proxy = World.container(StackPlan.proxyContainer(try! Fixture.spec(), paths: World.paths, pull: .never), health: nil)

    func reload() throws -> Stack {
        runner.on(["kill", "--signal", "HUP", "shop-proxy"], CommandResult(status: 0))
        var stack = try Fixture.stack(runner: runner, http: ScriptedHTTP(), stateDir: stateDir)
        stack.ports.clock = clock.clock
        stack.reloadTimeout = 2
        try Executor(stack: stack, started: 0).run(Plan(title: "t", steps: [Step("reload", "reload", .reload(proxy: proxy))]))
        return stack
    }

    var tops: Int { runner.calls(startingWith: ["top", "shop-proxy"]).count }

    @Test func itReturnsOnceTheOldWorkersStopAcceptingAndNewOnesDo() throws {
        runner.on(["top", "shop-proxy"],
                  proxyTop([(11, false), (12, false)]),
                  // The signal is not handled yet; then the master has closed the old listeners but not forked yet.
                  proxyTop([(11, false), (12, false)]),
                  proxyTop([(11, true), (12, true)]),
                  proxyTop([(11, true), (12, true), (21, false), (22, false)]))
        try reload()
        #expect(tops == 4, "one listing before the signal, then until the new generation alone accepts")
        #expect(runner.calls.firstIndex { $0.first == "kill" } == 1, "the listing before is taken before the signal")
        #expect(clock.seconds > 0 && clock.seconds < 0.1)
        #expect(runner.unscripted.isEmpty)
    }

    @Test func oldWorkersStillShuttingDownDoNotHoldItUp() throws {
        // Long requests keep old workers alive for minutes; they no longer accept, which is all that counts.
        runner.on(["top", "shop-proxy"], proxyTop([(11, false)]), proxyTop([(11, true), (21, false)]))
        try reload()
        #expect(tops == 2 && clock.seconds == 0)
    }

    @Test func aReloadWhoseOldWorkersNeverStopAcceptingFailsAfterTheTimeout() throws {
        runner.on(["top", "shop-proxy"], proxyTop([(11, false), (12, false)]))
        #expect {
            try reload()
        } throws: { error in
            guard case OrchestratorError.reloadFailed(let detail) = error else { return false }
            return detail.contains("still accept connections") && detail.contains("2")
        }
        #expect(clock.seconds > 2 && clock.seconds < 2.1, "bounded by stack.reloadTimeout on the fake clock")
        #expect(runner.calls(startingWith: ["kill"]).count == 1, "the signal is sent once")
    }

    @Test func withoutAListingBeforeTheSignalNothingIsWaitedFor() throws {
        runner.on(["top", "shop-proxy"], CommandResult(status: 1, stderr: "Error response from daemon: not running"))
        try reload()
        #expect(tops == 1 && clock.seconds == 0)
    }
}
