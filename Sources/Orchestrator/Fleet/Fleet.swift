import Foundation
import NginxConfigGen

/// The docker CLI aimed at one host of the fleet: every command gets that host's `--host`/`--context`.
public struct HostRunner: CommandRunner {
    public let host: FleetHost
    let runner: ProcessRunner

    public init(host: FleetHost, runner: ProcessRunner) {
        self.host = host
        self.runner = runner
    }

    public func run(_ command: DockerCommand, timeout: Double) throws -> CommandResult {
        try HostSlots.shared.with(host.name) {
            try runner.run(DockerCommand(host.dockerArguments + command.arguments, secretEnvironment: command.secretEnvironment), timeout: timeout)
        }
    }
}

/// What one host said about itself (`bgctl status --json` through its agent), or why it could not.
public struct HostStatus: Sendable, Equatable {
    public var host: String
    public var live: Pool?
    /// healthy, degraded, not_serving, or unknown (not reached).
    public var overall: String
    public var problems: [String]
    /// The host's whole report, as it printed it (nil when not reached).
    public var report: String?
}

public struct FleetStatus: Sendable {
    public var hosts: [HostStatus]
    public var problems: [String]
    /// healthy, degraded or not_serving, as for one host.
    public var overall: String
    /// The pool every host serves; nil when they differ or one is unknown.
    public var live: Pool?
}

/// The stack on every host of `spec.fleet`. On each host a small agent container (`<project>-agent`:
/// the bgctl image with that engine's socket and the project's folder under fleet.state_root) runs the
/// one-host bgctl: the host's lock, journal, state and history stay on that host, where every machine
/// that drives the fleet sees them. This side only carries the spec there and sequences the hosts.
public struct Fleet: Sendable {
    public let spec: DeploymentSpec
    public let fleet: FleetSpec
    /// The spec file's text as written (its `${VAR}` references resolved on each host from the
    /// variables passed to the agent's environment, never from a file).
    public let specText: Data
    public let runner: ProcessRunner
    public let report: Reporter
    public var cancelled: @Sendable () -> Bool = { false }
    public var pull: PullPolicy

    public init(spec: DeploymentSpec, specText: Data, runner: ProcessRunner, report: @escaping Reporter) {
        self.spec = spec
        self.fleet = spec.fleet!
        self.specText = specText
        self.runner = runner
        self.report = report
        pull = spec.pull
    }

    public var agentName: String { "\(spec.project)-agent" }
    func root(_ host: FleetHost) -> String { "\(host.stateRoot ?? fleet.stateRoot)/\(spec.project)" }
    func specPath(_ host: FleetHost) -> String { root(host) + "/bgctl.yaml" }
    func docker(_ host: FleetHost) -> HostRunner { HostRunner(host: host, runner: runner) }

    /// The variables the spec refers to, for the agent's environment (`docker exec -e NAME` takes the
    /// value from the docker CLI's environment: never on a command line).
    var variables: [String: String] { spec.variables.mapValues(\.revealed) }

    /// The docker CLI's environment for calls that pass the spec's variables on.
    var environment: [String: String] { runner.environment.merging(variables) { own, _ in own } }

    /// `docker <host> exec [-i] -e … <agent> bgctl -f <spec> ARGS…`.
    func agentArgv(_ host: FleetHost, _ arguments: [String], interactive: Bool = false) -> [String] {
        var argv = [runner.executable] + host.dockerArguments + ["exec"]
        if interactive { argv.append("-i") }
        // The socket at the host's own path: what the agent's bgctl mounts into the containers it makes
        // (the events container) is then that host's engine.
        argv += ["-e", "BGCTL_FLEET_HOST=\(host.name)", "-e", "NO_COLOR=1", "-e", "DOCKER_HOST=unix://\(host.socket)", "-e", "HOME=/tmp"]
        for name in variables.keys.sorted() { argv += ["-e", name] }
        return argv + [agentName, "/usr/local/bin/bgctl", "-f", specPath(host)] + arguments
    }

    /// The agent's container on `host`.
    func agentContainer(_ host: FleetHost) -> ContainerConfig {
        var config = ContainerConfig(name: agentName, image: spec.watch.image, network: "host", ipAddress: nil, pull: pull,
                                     labels: [Docker.label: spec.project, Docker.roleLabel: "agent"], environment: [:], publish: [],
                                     mounts: ["\(host.socket):\(host.socket)", "\(root(host)):\(root(host))"], tmpfs: [],
                                     health: nil, stopSignal: nil, stopTimeout: 5, entrypoint: nil, command: ["agent", "idle"])
        config.logLimit = StackPlan.logLimit(spec)
        config.labels[Docker.hashLabel] = config.fingerprint
        return config
    }

    // MARK: - up

    /// Brings the stack up on every host at once: the images it needs (copied from this engine when the
    /// host lacks them), the agent, the spec, then the host's own `bgctl up`. Each host's line is prefixed
    /// with its name. Returns each host's failure, nil for a host that is up.
    public func up(extra: [String] = []) -> [(host: String, failure: String?)] {
        let results = Fan.out(fleet.hosts) { host -> String? in
            do {
                try prepareHost(host)
                let outcome = stream(host, ["up"] + extra, timeout: 1800)
                return outcome.succeeded ? nil : "bgctl up \(outcome.summary)"
            } catch {
                return Executor.describe(error)
            }
        }
        if results.allSatisfy({ $0 == nil }) { agreeAfterUp() }
        return zip(fleet.hosts, results).map { ($0.name, $1) }
    }

    /// Every host up: when they serve one pool, that is what the fleet agreed on (each host's health path
    /// answers 200 while it serves it); when they differ, nothing is agreed and the command says so.
    func agreeAfterUp() {
        let (channels, failure) = openSessions(lockWait: 60)
        guard failure == nil else {
            report(.warning("\(failure!.host): \(failure!.why); the fleet's agreement was not recorded"))
            return
        }
        defer { channels.forEach { $0.close() } }
        let live = Fan.out(channels) { $0.call(["op": "where"], timeout: 60).fields["live"].flatMap(Pool.init(rawValue:)) }
        let pools = Set(live.compactMap { $0 })
        guard pools.count == 1, !live.contains(nil), let pool = pools.first else {
            let which = zip(channels, live).map { "\($0.host) \($1?.rawValue ?? "unknown")" }.joined(separator: ", ")
            report(.warning("the hosts serve different pools (\(which)): no agreement recorded; bgctl switch POOL brings them together"))
            return
        }
        let agreed = Fan.out(channels) { $0.call(["op": "agree", "pool": pool.rawValue], timeout: 60) }
        for (channel, reply) in zip(channels, agreed) where !reply.ok {
            report(.warning("\(channel.host): the fleet's agreement was not recorded (\(reply.problem))"))
        }
    }

    /// The images, the agent and the spec on `host`.
    func prepareHost(_ host: FleetHost) throws {
        let docker = self.docker(host)
        let version = try docker.run(Docker.version(), timeout: 20)
        guard version.succeeded else {
            throw OrchestratorError.dockerUnavailable(detail: "\(host.name) (\(host.description)): \(Self.firstLine(version.stderr))")
        }
        let images = Array(Set([spec.pool(.blue).image, spec.pool(.green).image, spec.proxy.image, spec.watch.image])).sorted()
        for image in images { try ensureImage(image, on: host) }
        let config = agentContainer(host)
        let found = ContainerInfo.parseInspect(try docker.run(Docker.inspectContainers([agentName]), timeout: 30).stdout).first
        if found?.isRunning != true || found?.labels[Docker.hashLabel] != config.labels[Docker.hashLabel] {
            if found != nil { _ = try docker.run(Docker.remove(agentName), timeout: 60) }
            let ran = try docker.run(Docker.run(config), timeout: 120)
            guard ran.succeeded else {
                _ = try? docker.run(Docker.remove(agentName), timeout: 30)
                throw OrchestratorError.classify(doing: "starting the agent on \(host.name)", command: Docker.run(config), result: ran)
            }
            report(.done("\(host.name): agent \(agentName) started"))
        }
        // The spec, by a temporary file and docker cp (into the project's folder, bind-mounted in the agent).
        let local = FileManager.default.temporaryDirectory.appendingPathComponent("bgctl-spec-\(getpid())-\(host.name).yaml").path
        guard FileManager.default.createFile(atPath: local, contents: specText, attributes: [.posixPermissions: 0o600]) else {
            throw OrchestratorError.launchFailed(command: "writing \(local)", reason: "cannot create the file")
        }
        defer { try? FileManager.default.removeItem(atPath: local) }
        let copied = try docker.run(DockerCommand(["cp", local, "\(agentName):\(specPath(host))"]), timeout: 60)
        guard copied.succeeded else {
            throw OrchestratorError.classify(doing: "copying the spec to \(host.name)", command: DockerCommand(["cp", local, "\(agentName):\(specPath(host))"]), result: copied)
        }
    }

    /// `image` on `host`: there already, or copied from this engine (`docker save | docker load`), or
    /// left to the host's pull policy.
    func ensureImage(_ image: String, on host: FleetHost) throws {
        let there = try docker(host).run(Docker.inspectImage(image), timeout: 30)
        guard !there.succeeded else { return }
        let here = try runner.run(Docker.inspectImage(image), timeout: 30)
        guard here.succeeded else { return }
        let began = DispatchTime.now().uptimeNanoseconds
        let copied = try HostSlots.shared.with(host.name) {
            try runner.pipe(DockerCommand(["save", image]), into: DockerCommand(host.dockerArguments + ["load", "--quiet"]), timeout: 600)
        }
        guard copied.succeeded else {
            throw OrchestratorError.classify(doing: "copying \(image) to \(host.name)", command: DockerCommand(["save", image]), result: copied)
        }
        report(.done("\(host.name): copied \(image) from this engine (\(String(format: "%.1f", Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9)) s)"))
    }

    /// Runs `bgctl ARGS` on `host` through its agent, each line it prints shown as `HOST | line`.
    func stream(_ host: FleetHost, _ arguments: [String], timeout: Double) -> HookOutcome {
        let report = self.report
        return HostSlots.shared.with(host.name) {
            HookProcess().run(agentArgv(host, arguments), environment: environment, directory: "/", timeout: timeout,
                              cancelled: cancelled) { line in report(.detail("\(host.name) | \(line)")) }
        }
    }

    // MARK: - switch

    /// The all-or-nothing switch (`FleetSwitch`): one agent session per host, opened in the hosts'
    /// order, each holding that host's lock until the end.
    public func switchTo(_ target: Pool, force: Bool, lockWait: Double) -> FleetSwitchOutcome {
        let started = DispatchTime.now().uptimeNanoseconds
        let (channels, failure) = openSessions(lockWait: lockWait)
        if let failure { return Self.notStarted(fleet, target, failure.host, failure.why, started: started) }
        defer { channels.forEach { $0.close() } }
        var outcome = FleetSwitch.move(channels, target: target, force: force, fleet: fleet, report: report)
        // A host that never answered is let go at once: its agent sees the session end and undoes its own flip.
        Self.abandonUnknown(outcome, channels)
        outcome.total = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return outcome
    }

    static func notStarted(_ fleet: FleetSpec, _ target: Pool, _ host: String, _ why: String, started: UInt64) -> FleetSwitchOutcome {
        FleetSwitchOutcome(result: .aborted, target: target,
                           hosts: fleet.hosts.map { HostOutcome(host: $0.name, state: .untouched, serving: nil, detail: $0.name == host ? why : "not flipped", flipMs: nil) },
                           mixedWindow: 0, total: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9,
                           reason: "\(host): \(why); no host was flipped")
    }

    // MARK: - dry run

    /// `bgctl ARGS --dry-run` on every host through its agent, at once: each host's own plan, as its
    /// lines (stdout and stderr), and why it could not plan (nil when it did).
    public func plans(_ arguments: [String]) -> [(host: String, lines: [String], failure: String?)] {
        let results = Fan.out(fleet.hosts) { host -> ([String], String?) in
            let collected = Lines()
            let outcome = HostSlots.shared.with(host.name) {
                HookProcess().run(agentArgv(host, arguments + ["--dry-run"]), environment: environment, directory: "/", timeout: 300,
                                  cancelled: cancelled) { collected.append($0) }
            }
            return (collected.all, outcome.succeeded ? nil : "bgctl \(arguments.first ?? "") --dry-run \(outcome.summary)")
        }
        return zip(fleet.hosts, results).map { ($0.name, $1.0, $1.1) }
    }

    /// Lines gathered from a process's callback (at most 10,000).
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func append(_ line: String) { lock.withLock { if lines.count < 10_000 { lines.append(line) } } }
        var all: [String] { lock.withLock { lines } }
    }

    // MARK: - watch

    /// Every host's watcher container's output, its last 10 lines first (`docker logs --follow --tail 10`), each line handed
    /// to `line` with its host, until `seconds` are over or `cancelled`; the follower of a host that
    /// ends early says why (its watcher gone, its engine unreachable).
    public func followWatchers(seconds: Double?, cancelled: @escaping @Sendable () -> Bool,
                               line: @escaping @Sendable (String, String) -> Void) -> [(String, String?)] {
        let limit = seconds ?? 86_400 * 365
        let results = Fan.out(fleet.hosts) { host -> String? in
            let argv = [runner.executable] + host.dockerArguments + ["logs", "--follow", "--tail", "10", spec.watcherContainerName]
            let outcome = HostSlots.shared.with(host.name) {
                HookProcess().run(argv, environment: runner.environment, directory: "/", timeout: limit, cancelled: cancelled) { text in line(host.name, text) }
            }
            if outcome.succeeded || cancelled() || outcome.end == .timedOut || outcome.end == .stopped { return nil }
            return "its watcher could not be followed (\(outcome.summary))"
        }
        return zip(fleet.hosts, results).map { ($0.name, $1) }
    }

    // MARK: - status and down

    /// Every host's own status, and whether they agree.
    public func status() -> FleetStatus {
        let rows = Fan.out(fleet.hosts) { host -> HostStatus in
            let result = try? HostSlots.shared.with(host.name) { try runner.run(DockerCommand(Array(agentArgv(host, ["status", "--json"]).dropFirst())), timeout: 60) }
            guard let result, let object = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
                  let overall = object["overall"] as? String else {
                let why = result.map { Self.firstLine($0.stderr.isEmpty ? $0.stdout : $0.stderr) } ?? "could not run docker"
                return HostStatus(host: host.name, live: nil, overall: "unknown", problems: ["not reached: \(why)"], report: nil)
            }
            return HostStatus(host: host.name, live: (object["live"] as? String).flatMap(Pool.init(rawValue:)), overall: overall,
                              problems: (object["problems"] as? [String]) ?? [], report: result.stdout)
        }
        return Self.judge(rows)
    }

    /// A fleet is healthy when every host is and they serve one pool; a mixed fleet is a problem.
    public static func judge(_ rows: [HostStatus]) -> FleetStatus {
        var problems: [String] = []
        for row in rows where row.overall != "healthy" {
            problems.append("\(row.host): \(row.overall)" + (row.problems.isEmpty ? "" : " (\(row.problems.prefix(3).joined(separator: "; ")))"))
        }
        let pools = Set(rows.compactMap(\.live))
        if pools.count > 1 {
            let which = rows.map { "\($0.host) \($0.live?.rawValue ?? "unknown")" }.joined(separator: ", ")
            problems.append("mixed fleet: the hosts serve different pools (\(which)); bgctl switch POOL brings them together")
        }
        let serving = rows.filter { $0.overall == "healthy" || $0.overall == "degraded" }.count
        let overall = serving == 0 ? "not_serving" : (problems.isEmpty ? "healthy" : "degraded")
        let live = pools.count == 1 && !rows.contains { $0.live == nil } ? pools.first : nil
        return FleetStatus(hosts: rows, problems: problems, overall: overall, live: live)
    }

    /// `bgctl down` on every host through its agent, then the agent itself.
    public func down(purge: Bool) -> [(host: String, failure: String?)] {
        let results = Fan.out(fleet.hosts) { host -> String? in
            let outcome = stream(host, ["down", "--yes"] + (purge ? ["--purge"] : []), timeout: 600)
            let removed = try? docker(host).run(Docker.remove(agentName), timeout: 60)
            if !outcome.succeeded { return "bgctl down \(outcome.summary)" }
            return removed?.succeeded == false && removed?.failure != .noSuchObject ? "could not remove \(agentName)" : nil
        }
        return zip(fleet.hosts, results).map { ($0.name, $1) }
    }

    static func firstLine(_ text: String) -> String {
        String(text.split(separator: "\n").first ?? "").trimmingCharacters(in: .whitespaces).prefix(300).description
    }
}
