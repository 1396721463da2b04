import Foundation
import Testing
import NginxConfigGen
@testable import Orchestrator

@Suite struct PlanTests {
    @Test func aPoolContainerRunsWithFixedAddressLabelsAndEnvironmentByName() throws {
        let spec = try Fixture.spec()
        let config = StackPlan.poolContainer(spec, .blue, pull: .never)
        let command = Docker.run(config)
        #expect(command.arguments == [
            "run", "--detach", "--name", "shop-blue", "--network", "shop-net", "--ip", "172.29.7.10",
            "--log-driver", "json-file", "--log-opt", "max-size=100m", "--log-opt", "max-file=5",
            "--restart", "unless-stopped", "--pull", "never",
            "--label", "io.bgctl.config-hash=\(config.fingerprint)", "--label", "io.bgctl.pool=blue",
            "--label", "io.bgctl.project=shop", "--label", "io.bgctl.release=v1", "--label", "io.bgctl.role=pool",
            "--env-file", "<env-file>",
            "--publish", "127.0.0.1:8081:3000",
            "--health-interval", "5s", "--health-timeout", "3s", "--health-retries", "3", "--health-start-period", "10s",
            "--stop-timeout", "10", "shop:1",
        ])
        #expect(command.secretEnvironment == ["APP_POOL": "blue", "DB_PASSWORD": "s3cret", "PORT": "3000", "RELEASE_ID": "v1", "SHARED": "1"])
        #expect(!command.description.contains("s3cret"), "environment values never appear in printed commands")
    }

    @Test func theProxyMountsTheConfigFolderReadOnlyAndRunsNginxWithThePrefix() throws {
        let spec = try Fixture.spec()
        let paths = StackPaths(spec: spec, specDirectory: "/srv/shop")
        let args = Docker.run(StackPlan.proxyContainer(spec, paths: paths, pull: .missing)).arguments
        #expect(args.contains("/srv/shop/.bgctl/nginx:/bgctl/conf:ro"))
        #expect(args.contains("/srv/shop/.bgctl/logs:/bgctl/logs"))
        #expect(args.contains("127.0.0.1:8080:8080"))
        #expect(Array(args.suffix(8)) == ["/usr/sbin/nginx", "nginx:1.28", "-p", "/bgctl/", "-e", "stderr", "-c", "/bgctl/conf/nginx.conf"])
        #expect(args.contains("SIGQUIT"))
    }

    @Test func theProxyHasNoHealthCheckInsideItsImage() throws {
        let spec = try Fixture.spec()
        let paths = StackPaths(spec: spec, specDirectory: "/srv/shop")
        let config = StackPlan.proxyContainer(spec, paths: paths, pull: .missing)
        #expect(config.health == nil)
        #expect(!Docker.run(config).arguments.contains { $0.hasPrefix("--health") })
    }

    /// A proxy made by bgctl 0.1 (health check by wget inside the image) is kept on upgrade, not recreated:
    /// its label is the hash 0.1 computed for this fixture.
    @Test func aProxyFromTheReleaseBeforeIsKeptAndAnyOtherIsNot() throws {
        var spec = try Fixture.spec()
        spec.proxy.image = "bgctl/nginx:local"
        let paths = StackPaths(spec: spec, specDirectory: "/srv/shop")
        let desired = StackPlan.proxyContainer(spec, paths: paths, pull: .missing)
        func proxy(label: String) -> ContainerInfo {
            ContainerInfo(name: "shop-proxy", id: "p", state: "running", health: "healthy", healthLog: [],
                          image: desired.image, labels: [Docker.hashLabel: label], startedAt: nil, exitCode: 0)
        }
        #expect(StackPlan.proxyMatches(proxy(label: desired.fingerprint), desired, spec: spec))
        #expect(StackPlan.proxyMatches(proxy(label: "b9c9e7904ac454aa"), desired, spec: spec))
        #expect(!StackPlan.proxyMatches(proxy(label: "0"), desired, spec: spec))
        var other = spec
        other.proxy.listen = ListenAddress(host: spec.proxy.listen.host, port: 8090)
        let moved = StackPlan.proxyContainer(other, paths: paths, pull: .missing)
        #expect(!StackPlan.proxyMatches(proxy(label: "b9c9e7904ac454aa"), moved, spec: other))
    }

    @Test func nginxTestAndReloadAreExecsInTheProxy() throws {
        let spec = try Fixture.spec()
        #expect(StackPlan.nginxTest(spec, candidate: true).arguments ==
                ["exec", "shop-proxy", "/usr/sbin/nginx", "-p", "/bgctl/", "-e", "stderr", "-c", "/bgctl/conf/next/nginx.conf", "-t"])
        #expect(StackPlan.nginxReload(spec).arguments == ["kill", "--signal", "HUP", "shop-proxy"])
    }

    @Test func theFingerprintChangesWithTheReleaseAndNothingElseUnrelated() throws {
        var spec = try Fixture.spec()
        let before = StackPlan.poolContainer(spec, .green, pull: .never).fingerprint
        #expect(StackPlan.poolContainer(spec, .green, pull: .never).fingerprint == before)
        spec.pools[.blue]?.release = "v9"
        #expect(StackPlan.poolContainer(spec, .green, pull: .never).fingerprint == before)
        spec.pools[.green]?.release = "v3"
        #expect(StackPlan.poolContainer(spec, .green, pull: .never).fingerprint != before)
    }

    @Test func upActionsFollowWhatExists() throws {
        let spec = try Fixture.spec()
        let desired = StackPlan.poolContainer(spec, .blue, pull: .never)
        var existing = ContainerInfo(name: "shop-blue", id: "x", state: "running", health: "healthy", healthLog: [],
                                     image: "shop:1", labels: desired.labels, startedAt: nil, exitCode: 0)
        #expect(StackPlan.poolAction(desired: desired, existing: nil, isLive: false) == .create)
        #expect(StackPlan.poolAction(desired: desired, existing: existing, isLive: true) == .keep)
        existing.state = "exited"
        #expect(StackPlan.poolAction(desired: desired, existing: existing, isLive: false) == .start)
        existing.state = "running"
        existing.image = "shop:0"
        existing.labels[Docker.hashLabel] = "old"
        #expect(StackPlan.poolAction(desired: desired, existing: existing, isLive: false) == .recreate(reason: "image shop:0 → shop:1"))
        #expect(StackPlan.poolAction(desired: desired, existing: existing, isLive: true) == .keepChangedLive(reason: "image shop:0 → shop:1"))
    }

    @Test func inspectOutputParsesStateHealthLabelsAndStartTime() {
        let infos = ContainerInfo.parseInspect(Fixture.inspectJSON([("shop-blue", "running", "healthy"), ("shop-green", "exited", nil)]))
        #expect(infos.map(\.name) == ["shop-blue", "shop-green"])
        #expect(infos[0].isHealthy && !infos[1].isHealthy)
        #expect(infos[0].healthLog == ["exit 0: ok"])
        #expect(infos[0].labels["io.bgctl.project"] == "shop")
        #expect(abs((infos[0].startedAt?.timeIntervalSince1970 ?? 0) - 1_795_687_200.123456789) < 1e-6, "the engine's nanoseconds, kept")
        #expect(ContainerInfo.parseInspect("[]").isEmpty && ContainerInfo.parseInspect("garbage").isEmpty)
    }

    @Test(arguments: [
        ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?", "cannot reach the Docker engine"),
        ("docker: Error response from daemon: No such image: shop:9.", "image shop:1 is not on this host"),
        ("Bind for 127.0.0.1:8081 failed: port is already allocated.", "port 127.0.0.1:8081:3000 is already in use"),
        ("some other failure", "starting blue failed\n  command: docker run"),
    ])
    func dockerFailuresAreClassified(stderr: String, expected: String) {
        let command = DockerCommand(["run", "shop:1"])
        let error = OrchestratorError.classify(doing: "starting blue", command: command, result: CommandResult(status: 125, stderr: stderr),
                                               image: "shop:1", container: "shop-blue", publish: ["127.0.0.1:8081:3000"], pull: "never")
        #expect(error.description.contains(expected), "\(error)")
    }

    @Test func aFailedCommandReadsDoingCommandStatusAndIndentedStderr() {
        let error = OrchestratorError.commandFailed(doing: "creating the network", command: "docker network create x",
                                                    result: CommandResult(status: 1, stderr: "line one\nline two"))
        #expect(error.description == "creating the network failed\n  command: docker network create x\n  exit status: 1\n  stderr:\n    line one\n    line two")
    }
}

@Suite struct LocalSignalTests {
    let id = "b86cdb4c3a3893b4d08d7cfbaa36dd14de8c82e1e2f8e4be83661c1e7e055130"

    @Test func aProcessInTheContainersCgroupsWithTheRightNameMatches() {
        let cgroupV1 = "9:name=systemd:/docker/\(id)\n1:cpu:/docker/\(id)\n0::/docker/\(id)\n"
        #expect(LocalSignal.belongs(cgroup: cgroupV1, comm: "nginx\n", to: id, command: "nginx"))
        #expect(LocalSignal.belongs(cgroup: "0::/system.slice/docker-\(id).scope\n", comm: "nginx", to: id, command: "nginx"))
    }

    @Test func anyOtherProcessDoesNot() {
        #expect(!LocalSignal.belongs(cgroup: "0::/docker/\(id)\n", comm: "bash", to: id, command: "nginx"))
        #expect(!LocalSignal.belongs(cgroup: "0::/user.slice/session-1.scope\n", comm: "nginx", to: id, command: "nginx"))
        #expect(!LocalSignal.belongs(cgroup: "0::/docker/\(id)\n1:cpu:/other\n", comm: "nginx", to: id, command: "nginx"))
        #expect(!LocalSignal.belongs(cgroup: "", comm: "nginx", to: id, command: "nginx"))
        #expect(!LocalSignal.send(SIGHUP, pid: 1, containerID: id, command: "nginx"), "PID 1 is never signalled")
    }
}

@Suite struct ContainerLogLimitTests {
    func spec(maxSize: Int64, keep: Int) throws -> DeploymentSpec {
        var spec = try Fixture.spec()
        spec.logs.maxSize = ByteSize(bytes: maxSize)
        spec.logs.keep = keep
        return spec
    }

    func limitArguments(_ arguments: [String]) -> [String] {
        guard let start = arguments.firstIndex(of: "--log-driver") else { return [] }
        return Array(arguments[start..<min(arguments.count, start + 6)])
    }

    @Test func everyContainerBoundsDockersJsonLogByLogsMaxSizeAndKeep() throws {
        let spec = try spec(maxSize: 64 << 10, keep: 50)
        let paths = StackPaths(spec: spec, specDirectory: "/srv/shop")
        let expected = ["--log-driver", "json-file", "--log-opt", "max-size=64k", "--log-opt", "max-file=50"]
        for config in [StackPlan.poolContainer(spec, .blue, pull: .never), StackPlan.poolContainer(spec, .green, pull: .never),
                       StackPlan.proxyContainer(spec, paths: paths, pull: .never),
                       StackPlan.watcherContainer(spec, paths: paths, specFile: "/srv/shop/bgctl.yaml", pull: .never)] {
            #expect(limitArguments(Docker.run(config).arguments) == expected, "\(config.name)")
        }
    }

    @Test func aSizeThatIsNoWholeKibibyteGoesToDockerInBytes() throws {
        let args = Docker.run(StackPlan.poolContainer(try spec(maxSize: 1500, keep: 1), .blue, pull: .never)).arguments
        #expect(limitArguments(args) == ["--log-driver", "json-file", "--log-opt", "max-size=1500", "--log-opt", "max-file=1"])
    }

    @Test func changingTheLimitsChangesTheFingerprint() throws {
        let before = StackPlan.proxyContainer(try spec(maxSize: 100 << 20, keep: 5), paths: World.paths, pull: .never)
        let after = StackPlan.proxyContainer(try spec(maxSize: 100 << 20, keep: 6), paths: World.paths, pull: .never)
        #expect(before.fingerprint != after.fingerprint)
    }

    @Test func theWatcherJoinsTheProxysPIDNamespaceAndSignalsItsPIDOne() throws {
        let spec = try Fixture.spec()
        let args = Docker.run(StackPlan.watcherContainer(spec, paths: World.paths, specFile: "/srv/shop/bgctl.yaml", pull: .never)).arguments
        let pid = try #require(args.firstIndex(of: "--pid"))
        #expect(args[pid + 1] == "container:shop-proxy")
        #expect(Array(args.suffix(6)) == ["--rotate-pid", "1", "--route", "/bgctl/route", "--events", "/bgctl/events/events.jsonl"])
    }

    @Test func theWatcherIsConfinedAndMayWriteOnlyItsFolderTheLogsAndTheRoute() throws {
        let spec = try Fixture.spec()
        let args = Docker.run(StackPlan.watcherContainer(spec, paths: World.paths, specFile: "/srv/shop/bgctl.yaml", pull: .never)).arguments
        for flag in [["--cap-drop", "ALL"], ["--security-opt", "no-new-privileges"]] {
            #expect(args.indices.contains { Array(args[$0..<min($0 + 2, args.count)]) == flag }, "\(flag) in \(args)")
        }
        #expect(args.contains("--read-only"))
        #expect(!args.contains("--cap-add"))
        let mounts = args.indices.filter { args[$0] == "--volume" }.map { args[$0 + 1] }
        #expect(mounts == ["/srv/shop/bgctl.yaml:/bgctl/bgctl.yaml:ro", World.paths.logsDir + ":/bgctl/logs",
                           World.paths.watcherDir + ":/bgctl/watcher", World.paths.routeDir + ":/bgctl/route",
                           World.paths.eventsDir + ":/bgctl/events:ro"], "the events file read-only: the watcher has no Docker socket")
    }
}

@Suite struct StateTests {
    @Test func aDeployedReleaseStandsInForTheSpecsPool() throws {
        let spec = try Fixture.spec()
        let state = StackState(project: "shop", live: .green, updatedAt: "t", lastSwitch: nil,
                               deployed: ["green": DeployedRelease(image: "shop:3", release: "v3", env: ["FLAG": "on"], at: "t")])
        let effective = state.apply(to: spec)
        #expect(effective.pool(.green).image == "shop:3" && effective.pool(.green).release == "v3")
        #expect(effective.pool(.green).env == ["FLAG": "on"])
        #expect(effective.pool(.blue) == spec.pool(.blue))
        #expect(StackPlan.poolContainer(effective, .green, pull: .never).fingerprint != StackPlan.poolContainer(spec, .green, pull: .never).fingerprint)
    }

    @Test func theWatcherContainerGetsReferencedVariablesAsEnvironmentOnly() throws {
        var spec = try Fixture.spec()
        spec.variables = ["SLACK_WEBHOOK_URL": Secret("https://hooks.example/T/B/SECRET")]
        spec.references = ["SLACK_WEBHOOK_URL": ["alerts.slack.webhook_url"]]
        let paths = StackPaths(spec: spec, specDirectory: "/srv/shop")
        let command = Docker.run(StackPlan.watcherContainer(spec, paths: paths, specFile: "/srv/shop/bgctl.yaml", pull: .never))
        #expect(command.arguments.contains("host") && command.arguments.contains("/srv/shop/bgctl.yaml:/bgctl/bgctl.yaml:ro"))
        #expect(command.arguments.contains("/srv/shop/.bgctl/logs:/bgctl/logs"), "the watcher rotates the access log")
        #expect(command.secretEnvironment == ["SLACK_WEBHOOK_URL": "https://hooks.example/T/B/SECRET"])
        #expect(!command.description.contains("SECRET"))
    }

    @Test func theWatcherContainerGetsOnlyTheVariablesOfTheKeysItReadsNotTheAppsSecrets() throws {
        let yaml = Fixture.specText.replacingOccurrences(of: "DB_PASSWORD: \"s3cret\"", with: "DB_PASSWORD: \"${DB_PASSWORD:?}\"")
            .replacingOccurrences(of: "release: \"v1\"", with: "release: \"${RELEASE}\"")
            + "\nalerts:\n  slack: {webhook_url: \"$SLACK_URL\"}\n  webhooks: [{url: \"${HOOK_URL}\", headers: {X-Token: \"${HOOK_TOKEN}\"}}]\n"
        let variables = ["DB_PASSWORD": "hunter2", "RELEASE": "v1", "SLACK_URL": "https://hooks.example/T/B/S",
                         "HOOK_URL": "https://hook.example/in", "HOOK_TOKEN": "t0k", "UNRELATED": "1"]
        let spec = try SpecLoader.parse(yaml: yaml, file: "bgctl.yaml", variables: variables).get()
        let config = StackPlan.watcherContainer(spec, paths: StackPaths(spec: spec, specDirectory: "/srv/shop"),
                                                specFile: "/srv/shop/bgctl.yaml", pull: .never)
        #expect(config.environment == ["RELEASE": "v1", "SLACK_URL": "https://hooks.example/T/B/S",
                                       "HOOK_URL": "https://hook.example/in", "HOOK_TOKEN": "t0k"])
    }
}
