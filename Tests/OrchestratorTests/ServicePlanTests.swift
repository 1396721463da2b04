import Foundation
import Testing
import NginxConfigGen
@testable import Orchestrator

/// `services`: the live release's workers, following the live pool, in `services_order`.
@Suite struct ServicePlanTests {
    static func spec(order: ServicesOrder = .stopFirst, replicas: Int = 2) throws -> DeploymentSpec {
        var spec = try Fixture.spec()
        var worker = ServiceSpec(name: "worker", command: ["worker", "--queue", "default"])
        worker.replicas = replicas
        worker.stopTimeout = .seconds(20)
        worker.env = ["QUEUE": "default", "SHARED": "worker's own"]
        spec.services = [worker]
        spec.servicesOrder = order
        return spec
    }

    static func running(_ config: ContainerConfig, state: String = "running") -> ContainerInfo {
        ContainerInfo(name: config.name, id: "id-\(config.name)", state: state, health: nil, healthLog: [], image: config.image,
                      labels: config.labels, startedAt: nil, exitCode: 0)
    }

    /// The services' containers running for `pool`, as found.
    static func found(_ spec: DeploymentSpec, on pool: Pool) -> [String: ContainerInfo] {
        Dictionary(uniqueKeysWithValues: (1...spec.services[0].replicas).map { replica in
            let config = ServicePlanner.container(spec, spec.services[0], pool: pool, replica: replica, pull: .never)
            return (config.name, running(config))
        })
    }

    /// Each step's name, its inner steps' names in brackets.
    static func shape(_ steps: [Step]) -> [String] {
        steps.map { step in
            switch step.action {
            case .together(let inner): return "\(step.name)[\(inner.map(\.name).joined(separator: " "))]"
            default: return step.name
            }
        }
    }

    @Test func aReplicaRunsThePoolsReleaseWithTheServicesCommandAndNoPortOrHealthCheck() throws {
        let spec = try Self.spec()
        let config = ServicePlanner.container(spec, spec.services[0], pool: .green, replica: 2, pull: .never)
        #expect(config.name == "shop-green-worker-2")
        #expect(config.image == "shop:2")
        #expect(config.command == ["worker", "--queue", "default"])
        #expect(config.publish.isEmpty && config.ipAddress == nil && config.health == nil && config.noHealthcheck)
        #expect(config.stopTimeout == 20)
        #expect(config.labels[Docker.roleLabel] == "service" && config.labels[Docker.serviceLabel] == "worker"
                && config.labels[Docker.poolLabel] == "green" && config.labels["io.bgctl.release"] == "v2")
        #expect(config.environment["SHARED"] == "worker's own", "the service's variables win over the app's")
        #expect(config.environment["RELEASE_ID"] == "v2" && config.environment["QUEUE"] == "default")
        #expect(config.environment["BGCTL_SERVICE"] == "worker" && config.environment["BGCTL_REPLICA"] == "2")
        let args = Docker.run(config).arguments
        #expect(args.contains("--no-healthcheck") && !args.contains("--publish"))
        #expect(Array(args.suffix(4)) == ["shop:2", "worker", "--queue", "default"])
    }

    @Test func stopFirstStopsTheOldReleasesServicesBeforeTheNewOnesStart() throws {
        let spec = try Self.spec(order: .stopFirst)
        let steps = ServicePlanner.follow(live: .green, spec: spec, pull: .never, containers: Self.found(spec, on: .blue))
        #expect(Self.shape(steps) == ["stop-services[retire-shop-blue-worker-1 retire-shop-blue-worker-2]",
                                      "start-services[start-shop-green-worker-1 start-shop-green-worker-2]"])
        guard case .together(let retire) = steps[0].action, case .sequence(let inner) = retire[0].action else { Issue.record("shape"); return }
        #expect(inner.map(\.action) == [.stopContainer("shop-blue-worker-1", timeout: 20), .removeContainer("shop-blue-worker-1")])
    }

    @Test func startFirstStartsTheNewReleasesServicesFirst() throws {
        let spec = try Self.spec(order: .startFirst)
        let steps = ServicePlanner.follow(live: .green, spec: spec, pull: .never, containers: Self.found(spec, on: .blue))
        #expect(steps.map(\.name) == ["start-services", "stop-services"])
    }

    @Test func servicesAlreadyFollowingTheLivePoolNeedNothing() throws {
        let spec = try Self.spec()
        #expect(ServicePlanner.follow(live: .blue, spec: spec, pull: .never, containers: Self.found(spec, on: .blue)).isEmpty)
    }

    @Test func aStoppedOrChangedReplicaIsReplacedAndTheOthersKept() throws {
        let spec = try Self.spec()
        var found = Self.found(spec, on: .blue)
        found["shop-blue-worker-1"]?.state = "exited"
        found["shop-blue-worker-2"]?.labels[Docker.hashLabel] = "older"
        var steps = ServicePlanner.follow(live: .blue, spec: spec, pull: .never, containers: found)
        #expect(Self.shape(steps) == ["start-services[start-shop-blue-worker-1 start-shop-blue-worker-2]"])
        found = Self.found(spec, on: .blue)
        found["shop-blue-worker-2"]?.state = "exited"
        steps = ServicePlanner.follow(live: .blue, spec: spec, pull: .never, containers: found)
        #expect(Self.shape(steps) == ["start-services[start-shop-blue-worker-2]"])
    }

    @Test func replicasPastTheCountAndStraysAreRetiredAndAStoppedOneIsOnlyRemoved() throws {
        let two = try Self.spec(replicas: 2)
        let one = try Self.spec(replicas: 1)
        var stray = Self.running(ServicePlanner.container(two, ServiceSpec(name: "mailer", command: ["mail"]), pool: .blue, replica: 1, pull: .never))
        stray.state = "exited"
        let steps = ServicePlanner.follow(live: .blue, spec: one, pull: .never, containers: Self.found(two, on: .blue), strays: [stray])
        #expect(Self.shape(steps) == ["stop-services[retire-shop-blue-mailer-1 retire-shop-blue-worker-2]"])
        guard case .together(let retire) = steps[0].action, case .sequence(let inner) = retire[0].action else { Issue.record("shape"); return }
        #expect(inner.map(\.name) == ["remove-shop-blue-mailer-1"], "an exited container needs no stop")
    }

    @Test func zeroReplicasRunsNoneOfThatService() throws {
        let spec = try Self.spec(replicas: 0)
        #expect(ServicePlanner.follow(live: .blue, spec: spec, pull: .never, containers: [:]).isEmpty)
        #expect(ServicePlanner.names(spec).isEmpty)
    }

    @Test func theNamesASwitchInspectsAreBothPoolsReplicas() throws {
        #expect(ServicePlanner.names(try Self.spec()) == ["shop-blue-worker-1", "shop-blue-worker-2", "shop-green-worker-1", "shop-green-worker-2"])
    }
}

/// A switch moves the services after traffic moved and was recorded; a failure to move them is
/// reported and recorded, and the switch stands.
@Suite struct ServiceSwitchTests {
    let runner = ScriptedRunner()
    let http = ScriptedHTTP()
    let stateDir = Fixture.tempDir()

    func stack(order: ServicesOrder, strays: [String] = []) throws -> Stack {
        var stack = try Fixture.stack(runner: runner, http: http, stateDir: stateDir)
        let spec = try ServicePlanTests.spec(order: order, replicas: 1)
        stack.spec.services = spec.services
        stack.spec.servicesOrder = order
        try stack.writeLive(Route(live: .blue))
        try stack.store.save(StackState(project: "shop", live: .blue, updatedAt: "t", lastSwitch: nil))
        let worker = ServicePlanner.container(stack.spec, stack.spec.services[0], pool: .blue, replica: 1, pull: .never)
        runner.on(["version"], CommandResult(status: 0, stdout: "20.10.24\n"))
        runner.on(["container", "inspect", "shop-green"], CommandResult(status: 0, stdout: ExecutorTests.allRunning))
        runner.on(["container", "inspect", "shop-blue-worker-1"], CommandResult(status: 0, stdout: """
            [{"Id":"id-w","Name":"/shop-blue-worker-1","State":{"Status":"running","ExitCode":0},
              "Config":{"Image":"shop:1","Labels":{"io.bgctl.project":"shop","io.bgctl.role":"service","io.bgctl.service":"worker","io.bgctl.config-hash":"\(worker.labels[Docker.hashLabel]!)"}}}]
            """))
        runner.on(["top"], CommandResult(status: 0, stdout: "PID CMD\n"))
        runner.on(["ps", "--all"], CommandResult(status: 0, stdout: strays.joined(separator: "\n")))
        runner.on(["container", "inspect", "shop-blue-worker-1", "shop-green-worker-1", "shop-blue-worker-7"], CommandResult(status: 0, stdout: """
            [{"Id":"id-w","Name":"/shop-blue-worker-1","State":{"Status":"running","ExitCode":0},
              "Config":{"Image":"shop:1","Labels":{"io.bgctl.project":"shop","io.bgctl.role":"service","io.bgctl.service":"worker","io.bgctl.config-hash":"\(worker.labels[Docker.hashLabel]!)"}}},
             {"Id":"id-s","Name":"/shop-blue-worker-7","State":{"Status":"running","ExitCode":0},
              "Config":{"Image":"shop:1","Labels":{"io.bgctl.project":"shop","io.bgctl.role":"service","io.bgctl.service":"worker"}}}]
            """))
        http.on(":8082/healthz", ScriptedHTTP.ok())
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        return stack
    }

    func mutations() -> [String] {
        runner.calls.filter { ["stop", "rm", "run"].contains($0.first ?? "") }.map { call in
            call[0] == "run" ? "run \(call[call.firstIndex(of: "--name")! + 1])" : "\(call[0]) \(call.last!)"
        }
    }

    @Test func aSwitchStopsTheOldWorkersThenStartsTheNewOnesAfterRecordingTheSwitch() throws {
        let stack = try stack(order: .stopFirst)
        runner.on(["stop"], CommandResult(status: 0))
        runner.on(["rm"], CommandResult(status: 0))
        runner.on(["run"], CommandResult(status: 0))
        let spy = JournalSpy(path: stack.paths.journalFile)
        runner.onCall = { _ in spy.look() }
        _ = try stack.switchTo(.init(target: .green), lockWait: 1)
        #expect(mutations() == ["stop shop-blue-worker-1", "rm shop-blue-worker-1", "run shop-green-worker-1"])
        let stopping = try #require(spy.entries.first { $0.current?.hasPrefix("services/") == true })
        #expect(stopping.done.contains("switch/record"), "traffic moved and was recorded before any worker stopped")
        #expect(try stack.store.load()?.live == .green)
    }

    @Test func aReplicaPastTheCountIsRetiredWithTheOldRelease() throws {
        // Replicas were cut from 7 to 1 since the last up: the switch finds the seventh by its label.
        let stack = try stack(order: .stopFirst, strays: ["shop-blue-worker-1", "shop-blue-worker-7"])
        runner.on(["stop"], CommandResult(status: 0))
        runner.on(["rm"], CommandResult(status: 0))
        runner.on(["run"], CommandResult(status: 0))
        _ = try stack.switchTo(.init(target: .green), lockWait: 1)
        let done = mutations()
        // The two retirements run at once: their commands interleave, and both end before the new worker starts.
        #expect(Set(done.dropLast()) == ["stop shop-blue-worker-1", "rm shop-blue-worker-1", "stop shop-blue-worker-7", "rm shop-blue-worker-7"])
        #expect(done.count == 5 && done.last == "run shop-green-worker-1")
    }

    @Test func aWorkerThatWillNotStartIsReportedAndTheSwitchStands() throws {
        let stack = try stack(order: .startFirst)
        runner.on(["stop"], CommandResult(status: 0))
        runner.on(["rm"], CommandResult(status: 0))
        runner.on(["run"], CommandResult(status: 125, stderr: "docker: Error response from daemon: no space left on device."))
        _ = try stack.switchTo(.init(target: .green), lockWait: 1)
        #expect(try stack.store.load()?.live == .green)
        #expect(!mutations().contains("stop shop-blue-worker-1"), "start-first: the old workers keep running when the new ones fail")
        let last = try #require(stack.store.history().last)
        #expect(last.action == "services" && last.result == "failed" && last.detail?.contains("no space left") == true)
        #expect(stack.journal.read() == nil)
    }
}
