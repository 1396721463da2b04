import Foundation
import HTTPClient
import Testing
import NginxConfigGen
import Watcher
@testable import Orchestrator

/// A scripted docker: answers commands by their leading arguments and records every call.
/// Strict: an unscripted command is recorded as such, answered with exit 125, and fails the running
/// test unless `strict` is turned off.
final class ScriptedRunner: CommandRunner, @unchecked Sendable {
    var strict = true
    /// Called with each command before it is answered (e.g. to raise a signal mid-operation).
    var onCall: (@Sendable ([String]) -> Void)?
    struct Rule {
        let prefix: [String]
        var results: [CommandResult]
    }

    private let lock = NSLock()
    private var rules: [Rule] = []
    private(set) var calls: [[String]] = []
    private(set) var unscripted: [[String]] = []

    /// Answers commands starting with `prefix`; several results are used in turn, the last one repeats.
    func on(_ prefix: [String], _ results: CommandResult...) {
        rules.append(Rule(prefix: prefix, results: results))
    }

    func run(_ command: DockerCommand, timeout: Double) throws -> CommandResult {
        onCall?(command.arguments)
        lock.lock()
        defer { lock.unlock() }
        calls.append(command.arguments)
        guard let index = rules.lastIndex(where: { command.arguments.starts(with: $0.prefix) }) else {
            unscripted.append(command.arguments)
            if strict { Issue.record("unexpected docker command: \(command.description)") }
            return CommandResult(status: 125, stderr: "unscripted command")
        }
        let result = rules[index].results[0]
        if rules[index].results.count > 1 { rules[index].results.removeFirst() }
        return result
    }

    func calls(startingWith prefix: [String]) -> [[String]] {
        lock.lock()
        defer { lock.unlock() }
        return calls.filter { $0.starts(with: prefix) }
    }
}

/// Scripted HTTP: answers by URL suffix; each rule's answers are used in turn, the last repeats.
final class ScriptedHTTP: HTTPProbing, @unchecked Sendable {
    private let lock = NSLock()
    private var rules: [(suffix: String, answers: [Result<HTTPResponse, HTTPError>])] = []
    private(set) var requested: [String] = []
    /// Called with each URL before it is answered (e.g. to look at the journal while a switch verifies).
    var onGet: (@Sendable (String) -> Void)?

    func on(_ suffix: String, _ answers: Result<HTTPResponse, HTTPError>...) {
        on(suffix, answers: answers)
    }

    func on(_ suffix: String, answers: [Result<HTTPResponse, HTTPError>]) {
        lock.withLock { rules.append((suffix, answers)) }
    }

    func get(_ url: String, timeout: Double) -> Result<HTTPResponse, HTTPError> {
        onGet?(url)
        lock.lock()
        defer { lock.unlock() }
        requested.append(url)
        guard let index = rules.lastIndex(where: { url.hasSuffix($0.suffix) }) else {
            return .failure(HTTPError(kind: .connect, message: "unscripted URL"))
        }
        let answer = rules[index].answers[0]
        if rules[index].answers.count > 1 { rules[index].answers.removeFirst() }
        return answer
    }

    static func ok(pool: String? = nil, status: Int = 200) -> Result<HTTPResponse, HTTPError> {
        .success(HTTPResponse(status: status, headers: pool.map { ["x-bgctl-pool": $0] } ?? [:], body: [], elapsedMilliseconds: 1))
    }
}

enum Fixture {
    static let templates = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../templates").standardized.path

    static let specText = """
    version: 1
    project: shop
    pull: never
    network: {subnet: 172.29.7.0/24}
    proxy: {listen: "127.0.0.1:8080"}
    app: {port: 3000, env: {SHARED: "1"}}
    pools:
      blue:  {image: "shop:1", release: "v1", preview_port: 8081, env: {DB_PASSWORD: "s3cret"}}
      green: {image: "shop:2", release: "v2", preview_port: 8082}
    """

    static func spec() throws -> DeploymentSpec {
        try SpecLoader.parse(yaml: specText, file: "bgctl.yaml", variables: [:]).get()
    }

    static func stack(runner: ScriptedRunner, http: ScriptedHTTP, stateDir: String) throws -> Stack {
        var spec = try spec()
        spec.stateDir = stateDir
        let ports = Ports(runner: runner, http: http, clock: FakeClock().clock, accessLog: { _ in ScriptedLog() })
        var stack = Stack(spec: spec, paths: StackPaths(spec: spec, specDirectory: "/"), ports: ports,
                          renderer: try ConfigRenderer(templatesDirectory: templates), environment: ["USER": "tester"],
                          report: { _ in })
        stack.verifyTimeout = 0.3
        return stack
    }

    /// `docker container inspect` output for containers in the given states.
    static func inspectJSON(_ containers: [(name: String, state: String, health: String?)], project: String = "shop") -> String {
        let objects = containers.map { c -> String in
            let health = c.health.map { ",\"Health\":{\"Status\":\"\($0)\",\"Log\":[{\"ExitCode\":0,\"Output\":\"ok\"}]}" } ?? ""
            return """
            {"Id":"id-\(c.name)","Name":"/\(c.name)","State":{"Status":"\(c.state)","ExitCode":0,"StartedAt":"2026-11-26T10:00:00.123456789Z"\(health)},
             "Config":{"Image":"shop:1","Labels":{"io.bgctl.project":"\(project)","io.bgctl.release":"v1"}}}
            """
        }
        return "[" + objects.joined(separator: ",") + "]"
    }

    static func tempDir() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bgctl-test-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// Time that passes only when slept: a wait of minutes takes microseconds, and every run is the same.
final class FakeClock: @unchecked Sendable {
    private let lock = NSLock()
    private var elapsed = 0.0

    var seconds: Double { lock.withLock { elapsed } }

    var clock: Clock {
        Clock(now: { Date(timeIntervalSince1970: 1_800_000_000 + self.seconds) },
              monotonic: { self.seconds },
              sleep: { seconds in self.lock.withLock { self.elapsed += seconds } })
    }
}

/// An access log whose figures a test sets.
final class ScriptedLog: AccessLogReading, @unchecked Sendable {
    var figures = AnalysisFigures()
    var byPool: [Pool: Int] = [:]
    /// Each pool's figures for a canary step.
    var pools: [Pool: PoolFigures] = [:]

    /// Called at each read (e.g. to look at state.json while a canary step is analysed).
    var onRead: (() -> Void)?

    func read() -> AnalysisFigures {
        onRead?()
        return figures
    }

    func requests(to pool: Pool) -> Int { byPool[pool] ?? 0 }
    func figures(of pool: Pool) -> PoolFigures { pools[pool] ?? PoolFigures() }
}

/// A signal as the operation sees it: raised by the test at a chosen moment.
final class FakeSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    func raise() { lock.withLock { raised = true } }
    var isRaised: Bool { lock.withLock { raised } }
}

/// The engine and probes of a deploy on a running stack: both pools and the proxy running, nginx -t and
/// reloads accepted, both preview ports healthy. `top` is what `docker top` of the proxy shows.
func scriptDeployOnRunningStack(_ runner: ScriptedRunner, _ http: ScriptedHTTP, top: String = "PID CMD\n1 nginx: master process\n") {
    runner.on(["version"], CommandResult(status: 0, stdout: "20.10.24\n"))
    runner.on(["container", "inspect"], CommandResult(status: 0, stdout: ExecutorTests.allRunning))
    runner.on(["top"], CommandResult(status: 0, stdout: top))
    runner.on(["rm"], CommandResult(status: 0))
    runner.on(["run"], CommandResult(status: 0))
    runner.on(["exec", "shop-proxy", "/usr/sbin/nginx"], CommandResult(status: 0))
    runner.on(["kill", "--signal", "HUP", "shop-proxy"], CommandResult(status: 0))
    http.on(":8081/healthz", ScriptedHTTP.ok())
    http.on(":8082/healthz", ScriptedHTTP.ok())
}

/// The engine and probes of `up` on a fresh host: no container or network yet, then everything running
/// and answering (blue live through the proxy).
func scriptUpOnFreshHost(_ runner: ScriptedRunner, _ http: ScriptedHTTP) {
    runner.on(["version"], CommandResult(status: 0, stdout: "20.10.24\n"))
    runner.on(["container", "inspect"], CommandResult(status: 1, stdout: "[]", stderr: "Error: No such container: shop-blue"),
              CommandResult(status: 0, stdout: ExecutorTests.allRunning))
    runner.on(["network", "inspect"], CommandResult(status: 1, stderr: "Error: No such network: shop-net"))
    runner.on(["network", "create"], CommandResult(status: 0))
    runner.on(["ps", "--all"], CommandResult(status: 0, stdout: ""))
    runner.on(["run"], CommandResult(status: 0))
    http.on(":8081/healthz", ScriptedHTTP.ok())
    http.on(":8082/healthz", ScriptedHTTP.ok())
    http.on(":8080/_bgctl/health", ScriptedHTTP.ok())
    http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"))
}

/// `docker top` of the proxy: the master, then one line per worker (`(pid, shuttingDown)`), as
/// Docker 20.10 prints them.
func proxyTop(_ workers: [(pid: Int, shuttingDown: Bool)]) -> CommandResult {
    var lines = ["UID                 PID                 PPID                C                   STIME               TTY                 TIME                CMD",
                 "root                4242                4221                0                   10:00               ?                   00:00:00            nginx: master process /usr/sbin/nginx -p /bgctl/ -c /bgctl/conf/nginx.conf"]
    for worker in workers {
        lines.append("101                 \(worker.pid)                4242                0                   10:00               ?                   00:00:00            nginx: worker process\(worker.shuttingDown ? " is shutting down" : "")")
    }
    return CommandResult(status: 0, stdout: lines.joined(separator: "\n") + "\n")
}

extension Stack {
    /// nginx/ as `up` leaves it: the configuration bgctl renders now, and `route` in force in nginx/route/.
    func writeLive(_ route: Route, tlsFingerprint: String? = nil) throws {
        try AtomicWriter.write(renderer.render(spec, tlsFingerprint: tlsFingerprint), into: paths.nginxDir)
        try installRoute(route)
    }

    /// nginx/ as a release before routes left it: a configuration rendered for blue live that reads no route.
    func writeLiveBeforeRoutes() throws {
        var files = renderer.render(spec).files
        files[RenderedConfig.siteFile] = Fixture.siteBeforeRoutes
        try AtomicWriter.write(RenderedConfig(files: files), into: paths.nginxDir)
    }
}

extension Fixture {
    /// The gist of bgctl.conf as bgctl 0.2 rendered it: the live pool in the file, no route read.
    static let siteBeforeRoutes = """
    # Generated by bgctl for project "shop" (live pool: blue). Do not edit: bgctl rewrites it.
    upstream bgctl_app {
        server 172.29.7.10:3000 max_fails=1 fail_timeout=10s;  # blue
        server 172.29.7.11:3000 max_fails=1 fail_timeout=10s backup;  # green
    }
    server {
        listen 127.0.0.1:8080;
        location / { proxy_pass http://bgctl_app; }
    }

    """
}
