import Foundation
import NginxConfigGen
import Testing
@testable import Orchestrator

/// The events container: what `up` runs, when, and what `down` and `status` make of it.
@Suite struct EventsPlanTests {
    static func spec(watcher: Bool = true) throws -> DeploymentSpec {
        var spec = try Fixture.spec()
        spec.watch.enabled = watcher
        return spec
    }

    static let socket = "/var/run/docker.sock"

    func plan(_ observed: Observed, spec: DeploymentSpec, events: EventsSource?) throws -> Plan {
        try UpPlanner.plan(.init(pull: spec.pull, specFile: "/srv/shop/bgctl.yaml", events: events), spec: spec, paths: World.paths,
                           renderer: World.renderer, observed: observed)
    }

    @Test func theEventsContainerHasTheSocketTheEventsFolderNoNetworkAndNoCapability() throws {
        let spec = try Self.spec()
        let config = StackPlan.eventsContainer(spec, paths: World.paths, socket: Self.socket, pull: .never)
        #expect(Docker.run(config).arguments == [
            "run", "--detach", "--name", "shop-events", "--network", "none",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--read-only",
            "--log-driver", "json-file", "--log-opt", "max-size=\(spec.logs.maxSize.dockerSize)", "--log-opt", "max-file=\(spec.logs.keep)",
            "--restart", "unless-stopped", "--pull", "never",
            "--label", "io.bgctl.config-hash=\(config.fingerprint)", "--label", "io.bgctl.project=shop", "--label", "io.bgctl.role=events",
            "--volume", "/var/run/docker.sock:/bgctl/docker.sock:ro", "--volume", World.paths.eventsDir + ":/bgctl/events",
            "--stop-timeout", "5", "--entrypoint", "/usr/local/bin/bgctl", spec.watch.image,
            "events", "--project", "shop", "--socket", "/bgctl/docker.sock", "--out", "/bgctl/events",
        ])
    }

    @Test func theWatcherHasNoSocketAndReadsTheEventsFolderReadOnly() throws {
        let args = Docker.run(StackPlan.watcherContainer(try Self.spec(), paths: World.paths, specFile: "/srv/shop/bgctl.yaml", pull: .never)).arguments
        #expect(!args.contains { $0.contains("docker.sock") })
        #expect(args.contains(World.paths.eventsDir + ":/bgctl/events:ro"))
        #expect(Array(args.suffix(2)) == ["--events", "/bgctl/events/events.jsonl"])
    }

    @Test func upStartsItBesideTheWatcherOnALocalEngine() throws {
        let spec = try Self.spec()
        let plan = try plan(World.up(spec), spec: spec, events: .socket(Self.socket))
        #expect(plan.names == ["watcher-folder", "start-watcher", "events-folder", "start-events", "record"])
        let start = try #require(plan.steps.first { $0.name == "start-events" })
        #expect(start.action == .runContainer(StackPlan.eventsContainer(spec, paths: World.paths, socket: Self.socket, pull: spec.pull)))
    }

    @Test func aMatchingEventsContainerIsKeptAndAStoppedOneStarted() throws {
        let spec = try Self.spec()
        var observed = World.up(spec)
        let watcher = World.container(StackPlan.watcherContainer(spec, paths: World.paths, specFile: "/srv/shop/bgctl.yaml", pull: spec.pull), health: nil)
        observed.containers[watcher.name] = watcher
        let events = World.container(StackPlan.eventsContainer(spec, paths: World.paths, socket: Self.socket, pull: spec.pull), health: nil)
        observed.containers[events.name] = events
        #expect(try plan(observed, spec: spec, events: .socket(Self.socket)).isEmpty)
        observed.containers[events.name]?.state = "exited"
        #expect(try plan(observed, spec: spec, events: .socket(Self.socket)).names == ["start-events", "record"])
    }

    @Test func anEventsContainerForAnotherSocketIsRecreated() throws {
        let spec = try Self.spec()
        var observed = World.up(spec)
        let events = World.container(StackPlan.eventsContainer(spec, paths: World.paths, socket: "/run/other.sock", pull: spec.pull), health: nil)
        observed.containers[events.name] = events
        let names = try plan(observed, spec: spec, events: .socket(Self.socket)).names
        #expect(names.suffix(4) == ["events-folder", "remove-events", "start-events", "record"])
    }

    @Test func anEngineThatIsNotLocalGetsAWarningAndNoEventsContainer() throws {
        let spec = try Self.spec()
        let plan = try plan(World.up(spec), spec: spec, events: .unavailable("DOCKER_HOST is not a unix socket (tcp://…)"))
        #expect(plan.names == ["watcher-folder", "start-watcher", "warn-events", "record"])
        let warning = try #require(plan.steps.first { $0.name == "warn-events" })
        #expect(warning.description.hasPrefix("no events container: DOCKER_HOST is not a unix socket (tcp://…)"))
    }

    @Test func withTheWatcherOffThereIsNoEventsContainerAndAnEarlierOneIsRemoved() throws {
        let spec = try Self.spec(watcher: false)
        #expect(try plan(World.up(spec), spec: spec, events: .socket(Self.socket)).isEmpty)
        var observed = World.up(spec)
        let events = World.container(StackPlan.eventsContainer(spec, paths: World.paths, socket: Self.socket, pull: spec.pull), health: nil)
        observed.containers[events.name] = events
        #expect(try plan(observed, spec: spec, events: .socket(Self.socket)).names == ["remove-events", "record"])
    }

    @Test func downRemovesTheEventsContainerAfterTheWatcher() throws {
        let spec = try Self.spec()
        var observed = World.up(spec)
        for config in [StackPlan.watcherContainer(spec, paths: World.paths, specFile: "/srv/shop/bgctl.yaml", pull: spec.pull),
                       StackPlan.eventsContainer(spec, paths: World.paths, socket: Self.socket, pull: spec.pull)] {
            observed.containers[config.name] = World.container(config, health: nil)
        }
        let plan = try DownPlanner.plan(purge: false, spec: spec, paths: World.paths, observed: observed)
        #expect(plan.names.prefix(4) == ["drain-proxy", "remove-shop-proxy", "remove-shop-watcher", "remove-shop-events"])
    }

    @Test func theEventsFolderIsBgctlsToPurge() {
        #expect(World.paths.ownedPaths.contains(World.paths.eventsDir))
    }
}

@Suite struct EventsSourceTests {
    @Test func theLocalSocketIsWhatTheEventsContainerMounts() throws {
        let (folder, path) = try EngineSocketTests.socket()
        #expect(EngineSocket.eventsSource(environment: ["DOCKER_HOST": "unix://" + path, "HOME": folder]) == .socket(path))
        #expect(EngineSocket.eventsSource(environment: ["DOCKER_HOST": "unix://" + path, "HOME": folder, "BGCTL_DOCKER_API": "0"]) == .socket(path),
                "BGCTL_DOCKER_API=0 changes how bgctl asks, not where the engine is")
    }

    @Test func aRemoteEngineIsSaidWhyWithoutTheAddress() throws {
        let (folder, _) = try EngineSocketTests.socket()
        guard case .unavailable(let why) = EngineSocket.eventsSource(environment: ["DOCKER_HOST": "tcp://10.0.0.9:2376", "HOME": folder]) else {
            Issue.record("a tcp engine has no socket to mount")
            return
        }
        #expect(why == "DOCKER_HOST is not a unix socket (tcp://…)")
    }
}
