import Foundation
import Testing
import NginxConfigGen
@testable import Orchestrator

/// What the world looks like to a plan: containers as `docker inspect` would describe them.
enum World {
    static let paths = StackPaths(spec: try! Fixture.spec(), specDirectory: "/srv/shop")
    static let renderer = try! ConfigRenderer(templatesDirectory: Fixture.templates)

    static func container(_ config: ContainerConfig, state: String = "running", health: String? = "healthy") -> ContainerInfo {
        ContainerInfo(name: config.name, id: "id-\(config.name)", state: state, health: health, healthLog: [], image: config.image,
                      labels: config.labels, startedAt: Date(timeIntervalSince1970: 1_800_000_000), exitCode: 0, pid: 4242)
    }

    /// A stack that is up: both pools healthy, the proxy serving `live` from in-sync files, the network ours;
    /// with `tls`, those certificate and key installed in tls/ and named by the live configuration.
    static func up(_ spec: DeploymentSpec, live: Pool = .blue, tls: TLSMaterial? = nil) -> Observed {
        var observed = Observed(state: StackState(project: spec.project, live: live, updatedAt: "t", lastSwitch: nil))
        for pool in Pool.allCases {
            let info = container(StackPlan.poolContainer(spec, pool, pull: spec.pull))
            observed.containers[info.name] = info
            observed.probed.insert(pool)
        }
        let proxy = container(StackPlan.proxyContainer(spec, paths: paths, pull: spec.pull), health: nil)
        observed.containers[proxy.name] = proxy
        observed.network = .present(labels: [Docker.label: spec.project], subnets: [spec.network.subnet.description])
        observed.liveFiles = renderer.render(spec, tlsFingerprint: tls?.fingerprint).files
        observed.route = .route(Route(live: live))
        observed.tlsFingerprint = tls?.fingerprint
        observed.tlsEntries = tls.map { [$0.fingerprint] } ?? []
        observed.servedBy = live
        observed.existingPaths = paths.ownedPaths.filter { $0 != paths.tlsDir || tls != nil }
        return observed
    }

    /// The same stack made by a release before routes: its configuration names the live pool and
    /// reads no route, and there is none.
    static func beforeRoutes(_ spec: DeploymentSpec, live: Pool = .blue) -> Observed {
        var observed = up(spec, live: live)
        observed.liveFiles[RenderedConfig.siteFile] = Fixture.siteBeforeRoutes
        observed.route = .missing
        return observed
    }

    static var proxyName: String { "shop-proxy" }
}

@Suite struct UpPlanTests {
    let spec = try! Fixture.spec()
    var request: UpPlanner.Request { .init(pull: spec.pull, specFile: "/srv/shop/bgctl.yaml") }

    func plan(_ observed: Observed) throws -> Plan {
        try UpPlanner.plan(request, spec: spec, paths: World.paths, renderer: World.renderer, observed: observed)
    }

    @Test func aFreshHostGetsNetworkFoldersBothPoolsTogetherThenTheProxyAndARecord() throws {
        let plan = try plan(Observed())
        #expect(plan.names == ["create-network", "create-folders", "start-blue", "start-green", "wait-healthy",
                               "write-config", "write-route", "start-proxy", "wait-proxy", "remember-tested", "record"])
        #expect(plan.steps.first { $0.name == "write-route" }?.action == .writeRoute(Route(live: .blue)), "the proxy starts on a route")
        guard case .together(let pools) = plan.steps[2].action else { Issue.record("pools start together"); return }
        #expect(pools.map(\.name) == ["start-blue", "start-green"])
        guard case .record(let record) = plan.steps.last?.action else { Issue.record("last step records"); return }
        #expect(record.live == .blue && record.history?.action == "up")
    }

    @Test func aStackThatMatchesTheSpecHasNothingToDo() throws {
        let plan = try plan(World.up(spec))
        #expect(plan.isEmpty)
        #expect(plan.nothingToDo?.contains("nothing to change") == true)
    }

    @Test func aStoppedIdlePoolIsStartedAndWaitedFor() throws {
        var observed = World.up(spec)
        observed.containers["shop-green"]?.state = "exited"
        #expect(try plan(observed).names == ["start-green", "wait-healthy", "record"])
    }

    @Test func anUnhealthyPoolIsWaitedForWithoutRecreatingIt() throws {
        var observed = World.up(spec)
        observed.probeFailures[.green] = "GET /healthz answered 503"
        #expect(try plan(observed).names == ["wait-healthy", "record"])
    }

    @Test func aProxyConfigurationOutOfSyncIsTestedInstalledReloadedAndVerified() throws {
        var observed = World.up(spec)
        observed.liveFiles[RenderedConfig.siteFile]?.append("# from an older spec\n")
        #expect(try plan(observed).names == ["stage", "nginx-test", "install", "reload", "verify", "remember-tested", "record"])
    }

    @Test func aStackMadeBeforeRoutesIsConvertedWithTheRouteAndOneReload() throws {
        let plan = try plan(World.beforeRoutes(spec))
        #expect(plan.names == ["route", "stage", "nginx-test", "install", "reload", "verify", "remember-tested", "record"])
        #expect(plan.steps[0].action == .setRoute(Route(live: .blue)), "the pool state.json records, written before the reload reads it")
    }

    @Test func aCanaryRouteADeadDeployLeftIsEndedWithoutAReload() throws {
        var observed = World.up(spec)
        observed.route = .route(Route(live: .blue, canary: CanaryRouting(pool: .green, percent: 5)))
        let plan = try plan(observed)
        #expect(plan.names == ["route", "verify", "record"])
        #expect(plan.steps[0].action == .setRoute(Route(live: .blue)))
    }

    @Test func theLivePoolIsKeptWithAWarningWhenItsSpecChangedAndTheIdleOneIsRecreated() throws {
        let observed = World.up(spec)
        var changed = spec
        changed.pools[.blue]?.image = "shop:9"
        changed.pools[.green]?.image = "shop:9"
        let plan = try UpPlanner.plan(request, spec: changed, paths: World.paths, renderer: World.renderer, observed: observed)
        #expect(plan.names == ["keep-blue", "remove-green", "start-green", "wait-healthy", "record"])
        guard case .sequence(let inner) = plan.steps[1].action else { Issue.record("a recreate is remove then run, in order"); return }
        #expect(inner.map(\.name) == ["remove-green", "start-green"])
    }

    @Test func aProxyWhoseContainerSettingsChangedIsRecreatedWithAWarning() throws {
        var observed = World.up(spec)
        observed.containers[World.proxyName]?.labels[Docker.hashLabel] = "stale"
        #expect(try plan(observed).names == ["warn-proxy", "remove-proxy", "write-config", "write-route", "start-proxy", "wait-proxy", "remember-tested", "record"])
    }

    @Test func aNetworkOfAnotherProjectIsRefused() throws {
        var observed = World.up(spec)
        observed.network = .present(labels: [Docker.label: "other"], subnets: [])
        #expect(throws: OrchestratorError.notOurs(kind: "network", name: "shop-net", project: "shop")) { try plan(observed) }
    }

    @Test func aNetworkWithAnotherSubnetIsRefused() throws {
        var observed = World.up(spec)
        observed.network = .present(labels: [Docker.label: "shop"], subnets: ["10.9.0.0/24"])
        #expect(throws: OrchestratorError.networkSubnetMismatch(network: "shop-net", found: ["10.9.0.0/24"], wanted: "172.29.7.0/24")) {
            try plan(observed)
        }
    }

    @Test func aWatcherIsStartedWhenAnAlertSinkIsConfiguredAndRemovedWhenNot() throws {
        var withSink = spec
        withSink.alerts.slackWebhookURL = Secret("https://hooks.example/T/B/X")
        let start = try UpPlanner.plan(request, spec: withSink, paths: World.paths, renderer: World.renderer, observed: World.up(spec))
        #expect(start.names == ["watcher-folder", "start-watcher", "record"])
        var observed = World.up(spec)
        let watcher = World.container(StackPlan.watcherContainer(withSink, paths: World.paths, specFile: "/srv/shop/bgctl.yaml", pull: spec.pull), health: nil)
        observed.containers[watcher.name] = watcher
        #expect(try plan(observed).names == ["remove-watcher", "record"])
    }

    /// The watcher lives in the proxy's PID namespace, which goes with the old proxy container.
    @Test func aRecreatedProxyRecreatesTheWatcherAfterIt() throws {
        var withSink = spec
        withSink.alerts.slackWebhookURL = Secret("https://hooks.example/T/B/X")
        var observed = World.up(withSink)
        let watcher = World.container(StackPlan.watcherContainer(withSink, paths: World.paths, specFile: "/srv/shop/bgctl.yaml", pull: spec.pull), health: nil)
        observed.containers[watcher.name] = watcher
        #expect(try UpPlanner.plan(request, spec: withSink, paths: World.paths, renderer: World.renderer, observed: observed).isEmpty,
                "a watcher that matches beside a proxy that stays is kept")
        observed.containers[World.proxyName]?.labels[Docker.hashLabel] = "stale"
        let plan = try UpPlanner.plan(request, spec: withSink, paths: World.paths, renderer: World.renderer, observed: observed)
        #expect(plan.names == ["warn-proxy", "remove-proxy", "write-config", "write-route", "start-proxy", "wait-proxy", "remember-tested",
                               "watcher-folder", "remove-watcher", "start-watcher", "record"])
        #expect(plan.steps.first { $0.name == "remove-watcher" }?.description.contains("PID namespace") == true)
    }

    @Test func aProxyStartedFromNothingStartsTheWatcherAfterIt() throws {
        var withSink = spec
        withSink.alerts.slackWebhookURL = Secret("https://hooks.example/T/B/X")
        var observed = World.up(withSink)
        observed.containers[World.proxyName] = nil
        let names = try UpPlanner.plan(request, spec: withSink, paths: World.paths, renderer: World.renderer, observed: observed).names
        let proxy = try #require(names.firstIndex(of: "start-proxy"))
        let watcher = try #require(names.firstIndex(of: "start-watcher"))
        #expect(proxy < watcher)
    }
}

@Suite struct SwitchPlanTests {
    let spec = try! Fixture.spec()

    func plan(_ target: Pool, force: Bool = false, _ observed: Observed) throws -> Plan {
        try SwitchPlanner.plan(.init(target: target, reason: "r", force: force), spec: spec, renderer: World.renderer, observed: observed)
    }

    @Test func aSwitchMovesTheRouteVerifiesAndRecordsWithoutTouchingTheConfiguration() throws {
        let plan = try plan(.green, World.up(spec))
        #expect(plan.title == "switch blue → green")
        #expect(plan.names == ["route", "verify", "record"])
        #expect(plan.steps[0].action == .setRoute(Route(live: .green)) && plan.steps[1].action == .verify(.green))
        guard case .record(let record) = plan.steps.last?.action else { Issue.record("records"); return }
        #expect(record.isSwitch && record.live == .green && record.history?.action == "switch" && record.history?.from == .blue)
    }

    @Test func bytesThisProxyAlreadyAcceptedAreNotTestedAgain() throws {
        var observed = World.up(spec)
        let proxy = try #require(observed.containers[World.proxyName])
        let (id, started) = TestedConfigs.key(proxy)
        observed.tested = TestedConfigs(container: id, startedAt: started, digests: [TestedConfigs.digest(World.renderer.render(spec))])
        observed.liveFiles[RenderedConfig.siteFile]?.append("# from an older spec\n")
        #expect(try plan(.green, observed).names == ["route", "stage", "install", "reload", "verify", "record"])
    }

    @Test func aSwitchOnAStackMadeBeforeRoutesWritesTheRouteThenAppliesTheConfiguration() throws {
        let plan = try plan(.green, World.beforeRoutes(spec))
        #expect(plan.title == "switch blue → green")
        #expect(plan.names == ["route", "stage", "nginx-test", "install", "reload", "verify", "remember-tested", "record"])
        #expect(plan.steps[0].action == .setRoute(Route(live: .green)))
        guard case .record(let record) = plan.steps.last?.action else { Issue.record("records"); return }
        #expect(record.isSwitch && record.history?.action == "switch")
    }

    @Test func aSwitchToThePoolThatIsLiveAndServedDoesNothing() throws {
        let plan = try plan(.blue, World.up(spec))
        #expect(plan.isEmpty && plan.nothingToDo == "blue is already live; nothing to do")
    }

    @Test(arguments: [RouteReading.missing, .damaged("nginx/route/current names something that is not a route")])
    func aSwitchToTheLivePoolWhoseRouteIsGoneIsARepairNotASwitch(_ reading: RouteReading) throws {
        var observed = World.up(spec)
        observed.route = reading
        let plan = try plan(.blue, observed)
        #expect(plan.names == ["route", "verify", "record"])
        guard case .record(let record) = plan.steps.last?.action else { Issue.record("records"); return }
        #expect(record.history?.action == "repair" && !record.isSwitch)
    }

    @Test func aRouteThatMovedWithoutBeingRecordedIsOnlyRecorded() throws {
        // What a switch killed right after its rename leaves.
        var observed = World.up(spec)
        observed.route = .route(Route(live: .green))
        #expect(observed.live(spec) == .green, "the route in force, not state.json, says who is live")
        let plan = try plan(.green, observed)
        #expect(plan.names == ["record"])
        guard case .record(let record) = plan.steps.last?.action else { Issue.record("records"); return }
        #expect(record.live == .green && record.history?.from == .blue && record.history?.detail?.contains("the route served green") == true)
    }

    @Test func anUnhealthyTargetIsRefused() throws {
        var observed = World.up(spec)
        observed.containers["shop-green"]?.health = "unhealthy"
        #expect { try plan(.green, observed) } throws: { "\($0)".contains("green (shop-green) is not healthy") }
    }

    @Test func aTargetWhoseProbeFailedIsRefused() throws {
        var observed = World.up(spec)
        observed.probeFailures[.green] = "GET /healthz answered 503"
        #expect { try plan(.green, observed) } throws: { "\($0)".contains("answered 503") }
    }

    @Test func aMissingTargetIsRefused() throws {
        var observed = World.up(spec)
        observed.containers["shop-green"] = nil
        #expect { try plan(.green, observed) } throws: { "\($0)".contains("does not exist") }
    }

    @Test func forceSkipsTheHealthCheckWithAWarningStep() throws {
        var observed = World.up(spec)
        observed.containers["shop-green"]?.health = "unhealthy"
        #expect(try plan(.green, force: true, observed).names.first == "force")
    }

    @Test func aStoppedProxyIsRefused() throws {
        var observed = World.up(spec)
        observed.containers[World.proxyName]?.state = "exited"
        #expect(throws: OrchestratorError.proxyNotRunning(container: "shop-proxy")) { try plan(.green, observed) }
    }
}

@Suite struct DownPlanTests {
    let spec = try! Fixture.spec()

    @Test func nothingThereMeansNothingToRemove() throws {
        let plan = try DownPlanner.plan(purge: false, spec: spec, paths: World.paths, observed: Observed())
        #expect(plan.isEmpty && plan.nothingToDo == "nothing to remove")
    }

    @Test func aRunningStackDrainsTheProxyFirstThenRemovesWhatExists() throws {
        let plan = try DownPlanner.plan(purge: false, spec: spec, paths: World.paths, observed: World.up(spec))
        #expect(plan.names == ["drain-proxy", "remove-shop-proxy", "remove-shop-blue", "remove-shop-green", "remove-network", "record", "forget-live"])
        #expect(plan.steps[0].action == .stopContainer("shop-proxy", timeout: 35))
    }

    @Test func downForgetsTheRouteWithStateJSONSoTheNextUpStartsFromTheSpecsActivePool() throws {
        let plan = try DownPlanner.plan(purge: false, spec: spec, paths: World.paths, observed: World.up(spec))
        #expect(plan.steps.last?.action == .removeFiles([World.paths.stateFile, World.paths.routeDir]))
    }

    @Test func aStoppedProxyIsNotDrainedAndAMissingPoolIsNotRemoved() throws {
        var observed = World.up(spec)
        observed.containers[World.proxyName]?.state = "exited"
        observed.containers["shop-green"] = nil
        let plan = try DownPlanner.plan(purge: false, spec: spec, paths: World.paths, observed: observed)
        #expect(plan.names == ["remove-shop-proxy", "remove-shop-blue", "remove-network", "record", "forget-live"])
    }

    @Test func purgeDeletesOnlyWhatBgctlWroteAndWhatExists() throws {
        var observed = World.up(spec)
        observed.existingPaths = [World.paths.historyFile, World.paths.stateFile]
        let plan = try DownPlanner.plan(purge: true, spec: spec, paths: World.paths, observed: observed)
        #expect(plan.names.suffix(2) == ["purge", "remove-state-folder"])
        #expect(!plan.names.contains("record"))
        #expect(plan.steps.contains { $0.action == .removeFiles([World.paths.stateFile, World.paths.historyFile]) })
    }

    @Test func aNetworkOfAnotherProjectIsRefused() throws {
        var observed = Observed()
        observed.network = .present(labels: [:], subnets: [])
        #expect(throws: OrchestratorError.notOurs(kind: "network", name: "shop-net", project: "shop")) {
            try DownPlanner.plan(purge: false, spec: spec, paths: World.paths, observed: observed)
        }
    }
}

@Suite struct DeployPlanTests {
    let spec = try! Fixture.spec()
    let request: DeployRequest = {
        var request = DeployRequest(image: "shop:3")
        request.env = ["FLAG": "on"]
        return request
    }()

    /// What the last release on green ran with (state.json's deployed env) is not the next one's.
    @Test func aReleasesSettingsAreTheSpecsPlusItsOwnFlagsNothingInherited() throws {
        var state = StackState(project: "shop", live: .blue, updatedAt: "t", lastSwitch: nil)
        state.deployed = ["green": DeployedRelease(image: "shop:bad", release: "bad", env: ["CHAOS_MODE": "error"], at: "t")]
        let running = state.apply(to: spec)
        #expect(running.pool(.green).env["CHAOS_MODE"] == "error")
        let staged = try DeployPlanner.plan(request, spec: running, pull: .never, observed: World.up(running), written: spec).spec
        #expect(staged.pool(.green).env == spec.pool(.green).env.merging(["FLAG": "on"]) { _, flag in flag })
        #expect(staged.pool(.green).env["CHAOS_MODE"] == nil)
        #expect(staged.pool(.blue) == running.pool(.blue), "the live pool is untouched")
    }

    @Test func aStackThatIsNotUpCannotBeDeployedTo() throws {
        #expect(throws: OrchestratorError.notUp) { try DeployPlanner.plan(request, spec: spec, pull: .never, observed: Observed()) }
    }

    @Test func aStoppedProxyIsRefused() throws {
        var observed = World.up(spec)
        observed.containers[World.proxyName]?.state = "exited"
        #expect(throws: OrchestratorError.proxyNotRunning(container: "shop-proxy")) {
            try DeployPlanner.plan(request, spec: spec, pull: .never, observed: observed)
        }
    }

    @Test func theIdlePoolIsDrainedReplacedCheckedAndRecordedWhileTheLiveOneIsUntouched() throws {
        let staging = try DeployPlanner.plan(request, spec: spec, pull: .never, observed: World.up(spec))
        #expect(staging.target == .green && staging.live == .blue)
        #expect(staging.plan.names == ["drain", "remove-green", "start-green", "wait-healthy", "record-release"])
        #expect(!staging.plan.steps.flatMap { $0.action.commands(spec) }.contains { $0.arguments.contains("shop-blue") })
        guard case .runContainer(let config) = staging.plan.steps[2].action else { Issue.record("runs the new release"); return }
        #expect(config.image == "shop:3" && config.labels["io.bgctl.release"] == "3" && config.environment["FLAG"] == "on")
        guard case .record(let record) = staging.plan.steps.last?.action else { Issue.record("records"); return }
        #expect(record.live == .blue && record.deployed?["green"]?.image == "shop:3" && record.history == nil)
    }

    @Test func aMissingIdleContainerIsNotDrained() throws {
        var observed = World.up(spec)
        observed.containers["shop-green"] = nil
        #expect(try DeployPlanner.plan(request, spec: spec, pull: .never, observed: observed).plan.names ==
                ["start-green", "wait-healthy", "record-release"])
    }

    @Test func smokeChecksRunBeforeTheReleaseIsRecorded() throws {
        var withSmoke = spec
        withSmoke.deploy.smoke = [SmokeCheck(path: "/ready", status: 200)]
        let names = try DeployPlanner.plan(request, spec: withSmoke, pull: .never, observed: World.up(spec)).plan.names
        #expect(names.suffix(2) == ["smoke", "record-release"])
    }

    @Test func noSwitchRecordsTheReleaseAsStaged() throws {
        var staged = request
        staged.noSwitch = true
        let plan = try DeployPlanner.plan(staged, spec: spec, pull: .never, observed: World.up(spec)).plan
        guard case .record(let record) = plan.steps.last?.action else { Issue.record("records"); return }
        #expect(record.history?.result == "staged")
    }

    @Test func theDryRunShowsTheSwitchAndTheAnalysisAfterTheStaging() throws {
        let observed = World.up(spec)
        let staging = try DeployPlanner.plan(request, spec: spec, pull: .never, observed: observed)
        let then = try DeployPlanner.expectedSwitch(staging, renderer: World.renderer, observed: observed, analyse: 30, reason: "deploy 3")
        // The staged release changes nothing nginx reads: the switch is the route's rename alone.
        #expect(then.names == ["route", "verify", "record", "analyse"])
    }
}
