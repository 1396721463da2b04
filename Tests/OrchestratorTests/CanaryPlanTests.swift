import Testing
import NginxConfigGen
@testable import Orchestrator

/// What a canary decides, without Docker: which steps, and what each weight change does to the proxy.
@Suite struct CanaryPlanTests {
    let spec = try! Fixture.spec()

    func request(_ canary: [Int]? = nil, step: Double? = nil, sticky: Bool? = nil, noSwitch: Bool = false) -> DeployRequest {
        var request = DeployRequest(image: "shop:3")
        request.canary = canary
        request.step = step
        request.sticky = sticky
        request.noSwitch = noSwitch
        return request
    }

    @Test func withoutStepsADeployIsBlueGreen() {
        #expect(CanaryPlanner.plan(request(), spec: spec, target: .green) == nil)
    }

    @Test func theSpecsStepsDurationAndStickinessAreTaken() {
        var canarySpec = spec
        canarySpec.deploy.canary = [10, 50]
        canarySpec.deploy.step = .seconds(30)
        canarySpec.deploy.sticky = .cookie
        #expect(CanaryPlanner.plan(request(), spec: canarySpec, target: .green) ==
                CanaryPlan(steps: [10, 50], seconds: 30, sticky: true, pool: .green))
    }

    @Test func theFlagsOverrideTheSpecAndNoneTurnsItOff() {
        var canarySpec = spec
        canarySpec.deploy.canary = [10, 50]
        canarySpec.deploy.sticky = .cookie
        #expect(CanaryPlanner.plan(request([5, 25, 50], step: 5, sticky: false), spec: canarySpec, target: .blue) ==
                CanaryPlan(steps: [5, 25, 50], seconds: 5, sticky: false, pool: .blue))
        #expect(CanaryPlanner.plan(request([]), spec: canarySpec, target: .green) == nil, "--canary none")
        #expect(CanaryPlanner.plan(request(noSwitch: true), spec: canarySpec, target: .green) == nil, "--no-switch moves no traffic")
    }

    @Test func aWeightChangeIsARenameOfTheRouteThatRecordsTheWeights() throws {
        let plan = try CanaryPlanner.route(CanaryRouting(pool: .green, percent: 5), live: .blue, spec: spec, renderer: World.renderer,
                                           observed: World.up(spec))
        #expect(plan.names == ["route", "verify", "record"], "no nginx -t, no reload")
        #expect(plan.steps[0].action == .setRoute(Route(live: .blue, canary: CanaryRouting(pool: .green, percent: 5))))
        #expect(plan.steps[1].action == .verifyPools([.blue, .green]), "either pool may answer a fresh request")
        guard case .record(let record) = plan.steps.last?.action else { Issue.record("records"); return }
        #expect(record.live == .blue && record.canary == CanaryRouting(pool: .green, percent: 5) && record.history == nil && !record.isSwitch)
    }

    @Test func aWeightChangeOnAStackMadeBeforeRoutesAppliesTheConfigurationOnce() throws {
        let plan = try CanaryPlanner.route(CanaryRouting(pool: .green, percent: 5), live: .blue, spec: spec, renderer: World.renderer,
                                           observed: World.beforeRoutes(spec))
        #expect(plan.names == ["route", "stage", "nginx-test", "install", "reload", "verify", "remember-tested", "record"])
        guard case .stageConfig(let config) = plan.steps[1].action else { Issue.record("stages"); return }
        #expect(config == World.renderer.render(spec), "the configuration carries no weight")
    }

    @Test func weightZeroPutsBackTheLivePoolAloneAndClearsTheWeights() throws {
        var observed = World.up(spec)
        let routing = CanaryRouting(pool: .green, percent: 25)
        observed.route = .route(Route(live: .blue, canary: routing))
        observed.state?.weights = routing.weights
        let plan = try CanaryPlanner.route(nil, live: .blue, spec: spec, renderer: World.renderer, observed: observed)
        #expect(plan.names == ["route", "verify", "record"])
        #expect(plan.steps[0].action == .setRoute(Route(live: .blue)) && plan.steps[1].action == .verify(.blue))
        guard case .record(let record) = plan.steps.last?.action else { Issue.record("records"); return }
        #expect(record.live == .blue && record.canary == nil)
    }

    @Test func aRouteAlreadyInForceOnlyClearsTheWeights() throws {
        var observed = World.up(spec)
        observed.state?.weights = ["blue": 95, "green": 5]
        #expect(try CanaryPlanner.route(nil, live: .blue, spec: spec, renderer: World.renderer, observed: observed).names == ["record"])
    }

    @Test func nothingToDoWhenTheProxyAndTheStateAlreadyAgree() throws {
        let plan = try CanaryPlanner.route(nil, live: .blue, spec: spec, renderer: World.renderer, observed: World.up(spec))
        #expect(plan.isEmpty && plan.nothingToDo != nil)
    }

    @Test func aStoppedProxyIsRefused() {
        var observed = World.up(spec)
        observed.containers[World.proxyName]?.state = "exited"
        #expect(throws: OrchestratorError.proxyNotRunning(container: "shop-proxy")) {
            try CanaryPlanner.route(CanaryRouting(pool: .green, percent: 5), live: .blue, spec: spec, renderer: World.renderer, observed: observed)
        }
    }

    @Test func theDryRunShowsEveryStepsRouteAndAnalysisThenThePromotion() throws {
        let observed = World.up(spec)
        let staging = try DeployPlanner.plan(request([5, 25]), spec: spec, pull: .never, observed: observed)
        let canary = try #require(CanaryPlanner.plan(request([5, 25], step: 60), spec: spec, target: staging.target))
        let then = try CanaryPlanner.expected(canary, staging: staging, renderer: World.renderer, observed: observed, reason: "r")
        #expect(then.title == "then canary 5% → 25% → promote, 60 s each")
        #expect(then.steps.map(\.name) == ["canary-5", "canary-25", "promote"])
        // Every weight and the promotion only rename the route: the staged release changes nothing nginx reads.
        let move = ["route", "verify", "record"]
        #expect(then.names == move + ["analyse"] + move + ["analyse"] + move)
        guard case .sequence(let second) = then.steps[1].action, case .analyseCanary(let routing, let seconds) = second.last?.action else {
            Issue.record("each step ends with its analysis"); return
        }
        #expect(routing == CanaryRouting(pool: .green, percent: 25) && seconds == 60)
        guard case .sequence(let promotion) = then.steps[2].action, case .record(let record) = promotion.last?.action else {
            Issue.record("the promotion records"); return
        }
        #expect(record.live == .green && record.isSwitch && record.canary == nil)
        let listing = then.listing(spec).joined(separator: "\n")
        #expect(listing.contains("2.1. route: move traffic: nginx/route/current to blue live, canary green 25%, blue 75%"), "\(listing)")
        #expect(listing.contains("1.4. analyse: compare green with blue in the proxy's log for 60 s"))
    }
}
