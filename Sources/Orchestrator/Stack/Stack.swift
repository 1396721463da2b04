import Foundation
import HTTPClient
import NginxConfigGen

/// Something that can answer an HTTP GET: libcurl in production, a script in tests.
public protocol HTTPProbing: Sendable {
    func get(_ url: String, timeout: Double) -> Result<HTTPResponse, HTTPError>
}

extension HTTPClient: HTTPProbing {}

/// StackEvent an operation reports while it works; the CLI turns these into text.
public enum StackEvent: Sendable {
    case step(String)
    case detail(String)
    case waiting(String)
    case warning(String)
    case done(String)
}

public typealias Reporter = @Sendable (StackEvent) -> Void

/// One blue-green stack: the spec, where its files live, and the means to act on Docker.
public struct Stack: Sendable {
    public var spec: DeploymentSpec
    public let paths: StackPaths
    public let runner: CommandRunner
    public let http: HTTPProbing
    public let renderer: ConfigRenderer
    public let report: Reporter
    public let environment: [String: String]
    public var pull: PullPolicy
    /// How long to wait for containers to become healthy; nil derives it from the health settings.
    public var healthTimeout: Double?
    /// How long the post-reload check may take to see the new pool answer through the proxy.
    public var verifyTimeout: Double = 5
    /// The spec file, mounted into the watcher container; nil runs no watcher container.
    public var specFile: String?

    public init(spec: DeploymentSpec, paths: StackPaths, runner: CommandRunner, http: HTTPProbing,
                renderer: ConfigRenderer, environment: [String: String], report: @escaping Reporter) {
        self.spec = spec
        self.paths = paths
        self.runner = runner
        self.http = http
        self.renderer = renderer
        self.environment = environment
        self.report = report
        self.pull = spec.pull
    }

    // MARK: Docker helpers

    /// Runs a command that must succeed; a failure is classified into an actionable error.
    @discardableResult
    func require(_ command: DockerCommand, doing: String, timeout: Double = 60, image: String? = nil,
                 container: String? = nil, publish: [String] = []) throws -> CommandResult {
        let result = try runner.run(command, timeout: timeout)
        guard result.succeeded else {
            throw OrchestratorError.classify(doing: doing, command: command, result: result, image: image,
                                             container: container, publish: publish, pull: pull.rawValue)
        }
        return result
    }

    func ensureEngine() throws {
        let result = try runner.run(Docker.version(), timeout: 15)
        guard result.succeeded else {
            let detail = result.timedOut ? "docker version did not answer within 15 s"
                : result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw OrchestratorError.dockerUnavailable(detail: detail.isEmpty ? "docker version exited \(result.status)" : detail)
        }
    }

    var allContainerNames: [String] {
        [spec.containerName(.blue), spec.containerName(.green), spec.proxyContainerName, spec.watcherContainerName]
    }

    /// Inspects containers by name; missing ones are simply absent from the result.
    func inspect(_ names: [String]) throws -> [String: ContainerInfo] {
        let result = try runner.run(Docker.inspectContainers(names), timeout: 30)
        if !result.succeeded && !result.stderr.contains("No such") {
            throw OrchestratorError.classify(doing: "inspecting containers", command: Docker.inspectContainers(names), result: result)
        }
        return Dictionary(ContainerInfo.parseInspect(result.stdout).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Refuses containers with our names that bgctl did not create for this project.
    func checkOwnership(_ containers: [String: ContainerInfo]) throws {
        for info in containers.values where info.labels[Docker.label] != spec.project {
            throw OrchestratorError.notOurs(kind: "container", name: info.name, project: spec.project)
        }
    }

    func removeContainer(_ name: String, doing: String) throws {
        let result = try runner.run(Docker.remove(name), timeout: 60)
        if !result.succeeded && !result.stderr.contains("No such container") {
            throw OrchestratorError.classify(doing: doing, command: Docker.remove(name), result: result)
        }
    }

    /// `docker run`; after a failure removes the container docker may have left in state Created.
    func runContainer(_ config: ContainerConfig, doing: String) throws {
        let command = Docker.run(config)
        let result = try runner.run(command, timeout: 300)
        guard result.succeeded else {
            _ = try? runner.run(Docker.remove(config.name), timeout: 30)
            throw OrchestratorError.classify(doing: doing, command: command, result: result, image: config.image,
                                             container: config.name, publish: config.publish, pull: config.pull.rawValue)
        }
    }

    // MARK: HTTP helpers

    /// The host address to probe the proxy on: its listen address, or loopback for a wildcard.
    var proxyProbeBase: String {
        let host = spec.proxy.listen.host == "0.0.0.0" ? "127.0.0.1" : spec.proxy.listen.host
        return "http://\(host):\(spec.proxy.listen.port)"
    }

    func previewURL(_ pool: Pool) -> String {
        "http://127.0.0.1:\(spec.pool(pool).previewPort)\(spec.app.health.path)"
    }

    /// GET the pool's health path on its preview port: nil when it answered 2xx, else why not.
    func probePool(_ pool: Pool) -> String? {
        switch http.get(previewURL(pool), timeout: max(1, spec.app.health.timeout.seconds)) {
        case .success(let response) where (200..<300).contains(response.status): return nil
        case .success(let response): return "GET \(spec.app.health.path) on 127.0.0.1:\(spec.pool(pool).previewPort) answered \(response.status)"
        case .failure(let error): return "GET \(spec.app.health.path) on 127.0.0.1:\(spec.pool(pool).previewPort): \(error)"
        }
    }

    func containerLogs(_ name: String, lines: Int = 15) -> String {
        guard let result = try? runner.run(Docker.logs(name, tail: lines), timeout: 10) else { return "" }
        return (result.stdout + result.stderr).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func elapsed(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }

    func history(_ action: String, from: Pool? = nil, to: Pool? = nil, reason: String? = nil, result: String,
                 started: DispatchTime, detail: String? = nil, image: String? = nil, release: String? = nil,
                 figures: [String: Double]? = nil) -> HistoryEntry {
        HistoryEntry(time: StateStore.now(), action: action, from: from, to: to, who: StateStore.who(environment: environment),
                     reason: reason, result: result, durationMs: Int(elapsed(since: started) * 1000), detail: detail,
                     image: image, release: release, figures: figures)
    }

    func lockHolder(_ command: String) -> StackLock.Holder {
        StackLock.Holder(pid: getpid(), who: StateStore.who(environment: environment), command: command, since: StateStore.now())
    }

    func acquireLock(_ command: String, wait: Double) throws -> StackLock {
        try StackLock.acquire(paths, holder: lockHolder(command), wait: wait, ttl: spec.deploy.lockTTL.seconds,
                              onWait: { holder in report(.waiting("waiting for the lock held by \(holder?.description ?? "another bgctl")")) },
                              onRecover: { message in report(.warning(message)) })
    }
}
