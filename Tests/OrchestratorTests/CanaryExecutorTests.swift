import Foundation
import Testing
import NginxConfigGen
import Watcher
@testable import Orchestrator

/// Canary deploys end to end against the strict scripted docker: every docker command is expected,
/// the log's per-pool figures are set by the test, time is a fake clock.
@Suite struct CanaryExecutorTests {
    let runner = ScriptedRunner()
    let http = ScriptedHTTP()
    let stateDir = Fixture.tempDir()
    let log = ScriptedLog()

    static let healthyBaseline = PoolFigures(requests: 2000, errors: 2, sent: 2000, retriedAway: 0, p95: 0.040)
    static let healthyCanary = PoolFigures(requests: 120, errors: 0, sent: 120, retriedAway: 0, p95: 0.045)

    init() {
        scriptDeployOnRunningStack(runner, http)
    }

    func stack() throws -> Stack {
        var stack = try Fixture.stack(runner: runner, http: http, stateDir: stateDir)
        let log = self.log
        stack.ports.accessLog = { _ in log }
        try stack.writeLive(Route(live: .blue))
        try stack.store.save(StackState(project: "shop", live: .blue, updatedAt: "t", lastSwitch: nil))
        return stack
    }

    func request(_ steps: [Int]) -> DeployRequest {
        var request = DeployRequest(image: "shop:3")
        request.canary = steps
        request.step = 60
        return request
    }

    func mutations() -> [String] {
        runner.calls.compactMap { args -> String? in
            switch args.first {
            case "run": return "run " + (args.firstIndex(of: "--name").map { args[$0 + 1] } ?? "?")
            case "rm", "kill": return "\(args[0]) \(args.last!)"
            default: return nil
            }
        }
    }

    @Test func aHealthyCanaryPassesTwoStepsAndIsPromoted() throws {
        let stack = try stack()
        log.pools = [.green: Self.healthyCanary, .blue: Self.healthyBaseline]
        // What state.json and the route say while each step is analysed.
        let seen = Box<[([String: Int]?, RouteReading)]>([])
        log.onRead = {
            let state = try? stack.store.load()
            seen.value.append((state?.weights, stack.readRoute()))
        }
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        let outcome = try stack.deploy(request([5, 50]), lockWait: 1)
        #expect(outcome.result == .promoted, "\(outcome.reason)")
        #expect(outcome.steps.map(\.weight) == [5, 50] && outcome.steps.allSatisfy { $0.result == "passed" })
        #expect(mutations() == ["rm shop-green", "run shop-green"],
                "no reload: the staged release changes nothing nginx reads; the weights and the promotion rename the route")
        #expect(runner.unscripted.isEmpty)
        // The drain before the staging reads the log too, before any weight.
        let during = seen.value.filter { $0.0 != nil }
        #expect(during.first?.0 == ["blue": 95, "green": 5] && during.last?.0 == ["blue": 50, "green": 50])
        #expect(Set(during.map { $0.0! }).count == 2)
        #expect(during.first?.1 == .route(Route(live: .blue, canary: CanaryRouting(pool: .green, percent: 5))))
        #expect(during.last?.1 == .route(Route(live: .blue, canary: CanaryRouting(pool: .green, percent: 50))))
        let state = try #require(try stack.store.load())
        #expect(state.live == .green && state.weights == nil && state.deployed?["green"]?.image == "shop:3")
        #expect(stack.currentFiles() == stack.renderer.render(state.apply(to: stack.spec)).files,
                "promoted: the configuration naming the new release")
        #expect(stack.readRoute() == .route(Route(live: .green)), "green alone, as after a switch")
        let history = stack.store.history()
        #expect(history.map(\.action) == ["canary", "canary", "switch", "deploy"])
        #expect(history[0].figures?["weight"] == 5 && history[0].figures?["canary_requests"] == 120 && history[0].figures?["baseline_requests"] == 2000)
        #expect(history.last?.result == "promoted" && history.last?.steps?.map(\.weight) == [5, 50])
        #expect(stack.journal.read() == nil)
    }

    @Test func aCanaryFailingItsFirstStepGetsWeightZeroAtOnceAndIsRolledBack() throws {
        let stack = try stack()
        log.pools = [.green: PoolFigures(requests: 40, errors: 8, sent: 40, p95: 0.04), .blue: Self.healthyBaseline]
        // The weighted reload is verified by either pool; the weight-0 reload must reach blue.
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"), ScriptedHTTP.ok(pool: "blue"))
        let outcome = try stack.deploy(request([5, 25, 50]), lockWait: 1)
        #expect(outcome.result == .rolledBack)
        #expect(outcome.reason.hasPrefix("at 5%: green's error rate 20.0% (8 of 40) is 19.9 points above blue's 0.1%"), "\(outcome.reason)")
        #expect(outcome.analysed < 1, "fails at the first read, not at the end of the step")
        #expect(mutations() == ["rm shop-green", "run shop-green"], "no reload: the 5% step and weight 0 are renames")
        #expect(stack.readRoute() == .route(Route(live: .blue)))
        let state = try #require(try stack.store.load())
        #expect(state.live == .blue && state.weights == nil && state.deployed?["green"]?.image == "shop:3")
        #expect(stack.currentFiles() == stack.renderer.render(state.apply(to: stack.spec)).files,
                "blue alone again, green as backup; the configuration names the release that stays on green")
        let history = stack.store.history()
        #expect(history.map(\.action) == ["canary", "deploy"])
        #expect(history[0].result == "failed" && history[0].figures?["canary_error_rate"] == 20)
        #expect(history[1].result == "rolled_back" && history[1].steps?.count == 1)
        #expect(stack.journal.read() == nil)
    }

    @Test func tooFewRequestsAreExtendedToTheLimitThenFail() throws {
        var stack = try stack()
        stack.spec.deploy.extendLimit = .seconds(120)
        log.pools = [.green: PoolFigures(requests: 3, errors: 0, sent: 3, p95: 0.04), .blue: Self.healthyBaseline]
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"), ScriptedHTTP.ok(pool: "blue"))
        let outcome = try stack.deploy(request([5]), lockWait: 1)
        #expect(outcome.result == .rolledBack)
        #expect(outcome.reason == "at 5%: inconclusive after extending the step to deploy.extend_limit (2m): nginx sent green 3 requests, fewer than deploy.canary_min_requests (20)")
        #expect(outcome.analysed >= 120 && outcome.analysed < 121)
    }

    @Test func aFailedWeightChangeAfterTheFirstStepEndsAsARollback() throws {
        let stack = try stack()
        log.pools = [.green: Self.healthyCanary, .blue: Self.healthyBaseline]
        // The 5% step is verified; after the 50% rename the proxy answers 502 for longer than the verify
        // timeout (0.3 s, polled every 10 ms); weight 0 then reaches blue.
        http.on(":8080/healthz", answers: [ScriptedHTTP.ok(pool: "green")] + Array(repeating: ScriptedHTTP.ok(status: 502), count: 40)
                    + [ScriptedHTTP.ok(pool: "blue")])
        let outcome = try stack.deploy(request([5, 50]), lockWait: 1)
        #expect(outcome.result == .rolledBack)
        #expect(outcome.reason.hasPrefix("moving to 50% failed: "), "\(outcome.reason)")
        #expect(mutations() == ["rm shop-green", "run shop-green"], "no reload: every step and weight 0 are renames")
        #expect(try stack.store.load()?.weights == nil)
        #expect(stack.readRoute() == .route(Route(live: .blue)))
    }

    @Test func aWeightZeroThatFailsTooIsReportedAndKeepsTheJournal() throws {
        let stack = try stack()
        log.pools = [.green: PoolFigures(requests: 40, errors: 8, sent: 40, p95: 0.04), .blue: Self.healthyBaseline]
        // The proxy keeps answering from green: weight 0 is never verified.
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        let outcome = try stack.deploy(request([5]), lockWait: 1)
        #expect(outcome.result == .rollbackFailed && outcome.reason.contains("setting green's weight to 0 failed too"))
        #expect(stack.store.history().last?.result == "rollback_failed")
        #expect(stack.journal.read() != nil, "the next command finishes it")
    }

    @Test func theAnnouncementListsEveryStep() throws {
        var spec = try Fixture.spec()
        spec.alerts.slackWebhookURL = Secret("https://hooks.example/x")
        var outcome = DeployOutcome(result: .rolledBack, target: .green, previous: .blue, image: "shop:3", release: "3",
                                    reason: "at 25%: <!channel> too slow", figures: nil, total: 130, analysed: 125)
        outcome.canary = CanaryPlan(steps: [5, 25, 50], seconds: 60, sticky: false, pool: .green)
        outcome.steps = [CanaryStepRecord(weight: 5, result: "passed", reason: "ok", figures: ["canary_requests": 52, "canary_error_rate": 0, "baseline_requests": 998, "baseline_error_rate": 0.1]),
                         CanaryStepRecord(weight: 25, result: "failed", reason: "slow", figures: ["canary_requests": 260, "canary_error_rate": 0.4, "canary_p95_ms": 300, "baseline_requests": 780, "baseline_error_rate": 0.1, "baseline_p95_ms": 40])]
        let announcement = try #require(DeployAnnouncement.make(outcome, spec: spec, at: 1_800_000_000))
        let fields = Dictionary(uniqueKeysWithValues: announcement.fields)
        #expect(fields["Canary"] == "5% → 25% → 50% → promote, 60 s each")
        #expect(fields["Steps"] == "5% passed: canary 0.0% of 52; baseline 0.1% of 998\n25% failed: canary 0.4% of 260, p95 300 ms; baseline 0.1% of 780, p95 40 ms")
        let slack = String(decoding: AlertMessage.json(AlertMessage.slackPayload(announcement)), as: UTF8.self)
        #expect(!slack.contains("<!channel>") && slack.contains("&lt;!channel&gt;"), "text from the run is escaped for Slack")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(announcement.jsonBody)) as? [String: Any])
        #expect((json["steps"] as? [[String: Any]])?.map { $0["weight"] as? Int } == [5, 25])
    }
}

/// A value a test's closures share.
final class Box<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
