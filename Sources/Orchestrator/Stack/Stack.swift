import ACME
import Foundation
import HTTPClient
import NginxConfigGen

/// StackEvent an operation reports while it works; the CLI turns these into text.
public enum StackEvent: Sendable {
    case step(String)
    case detail(String)
    case waiting(String)
    case warning(String)
    case done(String)
}

public typealias Reporter = @Sendable (StackEvent) -> Void

/// Everything outside bgctl that an operation touches, injected: docker, HTTP, files, time, signals
/// and the access log. Operation code reaches the world only through these.
public struct Ports: Sendable {
    public var runner: CommandRunner
    public var http: HTTPProbing
    public var files: FileSystem
    public var clock: Clock
    public var signaller: Signalling
    public var accessLog: AccessLogOpener
    /// The engine's API for inspecting containers, when it can be reached directly; nil: the docker CLI.
    public var engine: ContainerInspecting?
    /// True once the operator or CI asked the operation to stop (SIGINT, SIGTERM, SIGHUP).
    public var cancelled: @Sendable () -> Bool
    /// Runs `hooks` commands on the host.
    public var hooks: HookRunning = HookProcess()
    /// Runs deploy.before_switch commands inside a container.
    public var exec: ContainerExecuting = NoContainerExec()
    /// Talks to proxy.tls.acme's CA.
    public var acme: ACMETransport = HTTPClient()

    public init(runner: CommandRunner, http: HTTPProbing, files: FileSystem = LocalFileSystem(), clock: Clock = .system,
                signaller: Signalling? = nil, accessLog: @escaping AccessLogOpener, cancelled: @escaping @Sendable () -> Bool = { false }) {
        self.runner = runner
        self.http = http
        self.files = files
        self.clock = clock
        self.signaller = signaller ?? ProxySignaller(runner: runner)
        self.accessLog = accessLog
        self.cancelled = cancelled
    }
}

/// One blue-green stack: the spec, where its files live, and the ports to act through.
public struct Stack: Sendable {
    public var spec: DeploymentSpec
    public let paths: StackPaths
    public var ports: Ports
    public let renderer: ConfigRenderer
    public let report: Reporter
    public let environment: [String: String]
    public var pull: PullPolicy
    /// How long to wait for containers to become healthy; nil derives it from the health settings.
    public var healthTimeout: Double?
    /// How long the post-reload check may take to see the new pool answer through the proxy.
    public var verifyTimeout: Double = 5
    /// How long a reload may take until no worker of the configuration before accepts connections.
    public var reloadTimeout: Double = 10
    /// The spec file, mounted into the watcher container; nil runs no watcher container.
    public var specFile: String?
    /// The spec as its file says, before the releases state.json records were applied to the pools:
    /// what a new release's settings start from.
    public var writtenSpec: DeploymentSpec?
    /// proxy.tls's certificate and key as read and checked by the caller (`TLSFiles.load`): what `up`
    /// installs. Other operations keep the copies already installed and do not read it.
    public var tls: TLSMaterial?
    /// proxy.tls.acme.ca_file as the host reads it (resolved against the spec's folder).
    public var acmeCAFile: String?
    /// How the events container reaches the engine (`EngineSocket.eventsSource`); nil: none planned.
    public var events: EventsSource?
    /// Set for a dry run: operations hand their plans here instead of executing them, and take no lock.
    public var dryRun: (@Sendable (Plan) -> Void)?

    public init(spec: DeploymentSpec, paths: StackPaths, ports: Ports, renderer: ConfigRenderer,
                environment: [String: String], report: @escaping Reporter) {
        self.spec = spec
        self.paths = paths
        self.ports = ports
        self.renderer = renderer
        self.environment = environment
        self.report = report
        self.pull = spec.pull
    }

    public var store: StateStore { StateStore(paths: paths, files: ports.files) }
    public var journal: Journal { Journal(paths: paths, files: ports.files) }

    // MARK: Docker helpers

    /// Runs a command that must succeed; a failure is classified into an actionable error.
    @discardableResult
    func require(_ command: DockerCommand, doing: String, timeout: Double = 60, image: String? = nil,
                 container: String? = nil, publish: [String] = []) throws -> CommandResult {
        let result = try ports.runner.run(command, timeout: timeout)
        guard result.succeeded else {
            throw OrchestratorError.classify(doing: doing, command: command, result: result, image: image,
                                             container: container, publish: publish, pull: pull.rawValue)
        }
        return result
    }

    func ensureEngine() throws {
        let result = try ports.runner.run(Docker.version(), timeout: 15)
        guard result.succeeded else {
            let detail = result.timedOut ? "docker version did not answer within 15 s"
                : result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw OrchestratorError.dockerUnavailable(detail: detail.isEmpty ? "docker version exited \(result.status)" : detail)
        }
    }

    var allContainerNames: [String] {
        // Behind the front, the project's own proxy from before it moved there too: up removes it.
        [spec.containerName(.blue), spec.containerName(.green), spec.proxyContainerName, spec.watcherContainerName, spec.eventsContainerName]
            + (spec.front == nil ? [] : [spec.ownProxyContainerName]) + ServicePlanner.names(spec)
    }

    /// Inspects containers by name; missing ones are simply absent from the result.
    func inspect(_ names: [String]) throws -> [String: ContainerInfo] {
        if let engine = ports.engine, let found = engine.inspect(names) { return found }
        let result = try ports.runner.run(Docker.inspectContainers(names), timeout: 30)
        if !result.succeeded && result.failure != .noSuchObject {
            throw OrchestratorError.classify(doing: "inspecting containers", command: Docker.inspectContainers(names), result: result)
        }
        return Dictionary(ContainerInfo.parseInspect(result.stdout).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Refuses containers with our names that bgctl did not create for this project.
    func checkOwnership(_ containers: [String: ContainerInfo]) throws {
        for info in containers.values.sorted(by: { $0.name < $1.name }) where info.labels[Docker.label] != spec.project {
            // The shared front belongs to no project; bgctl made it when it carries the front's role.
            if spec.front != nil, info.name == spec.proxyContainerName {
                guard info.labels[Docker.roleLabel] == "front" else {
                    throw OrchestratorError.notOurs(kind: "container", name: info.name, project: "the shared front")
                }
                continue
            }
            throw OrchestratorError.notOurs(kind: "container", name: info.name, project: spec.project)
        }
    }

    func containerLogs(_ name: String, lines: Int = 15) -> String {
        guard let result = try? ports.runner.run(Docker.logs(name, tail: lines), timeout: 10) else { return "" }
        return (result.stdout + result.stderr).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: HTTP helpers

    /// The host address to probe the proxy on: its listen address, or loopback for a wildcard.
    var proxyProbeBase: String {
        // Behind the shared front: by the project's first name, which the stack's HTTP client
        // resolves to the front's address (`frontResolve`).
        if spec.front != nil, let name = spec.proxy.hosts.first { return "http://\(name):\(spec.proxy.listen.port)" }
        return "http://\(Self.probeHost(spec)):\(spec.proxy.listen.port)"
    }

    static func probeHost(_ spec: DeploymentSpec) -> String {
        spec.proxy.listen.host == "0.0.0.0" ? "127.0.0.1" : spec.proxy.listen.host
    }

    /// The HTTP client's fixed resolution behind the shared front: the first name on the front's address.
    public static func frontResolve(_ spec: DeploymentSpec) -> [String] {
        guard spec.front != nil, let name = spec.proxy.hosts.first else { return [] }
        return ["\(name):\(spec.proxy.listen.port):\(probeHost(spec))"]
    }

    func previewURL(_ pool: Pool) -> String {
        "http://127.0.0.1:\(spec.pool(pool).previewPort)\(spec.app.health.path)"
    }

    /// GET the pool's health path on its preview port: nil when it answered 2xx, else why not.
    func probePool(_ pool: Pool) -> String? {
        switch ports.http.get(previewURL(pool), timeout: max(1, spec.app.health.timeout.seconds)) {
        case .success(let response) where (200..<300).contains(response.status): return nil
        case .success(let response): return "GET \(spec.app.health.path) on 127.0.0.1:\(spec.pool(pool).previewPort) answered \(response.status)"
        case .failure(let error): return "GET \(spec.app.health.path) on 127.0.0.1:\(spec.pool(pool).previewPort): \(error)"
        }
    }

    /// Nil when a fresh request through the proxy was answered by `pool`; otherwise what happened.
    func servedBy(_ pool: Pool) -> String? {
        switch ports.http.get(proxyProbeBase + spec.app.health.path, timeout: 2) {
        case .success(let response):
            let servedBy = response.header("X-Bgctl-Pool") ?? ""
            if servedBy == pool.rawValue && (200..<500).contains(response.status) { return nil }
            return "GET \(spec.app.health.path) through the proxy answered \(response.status) from \(servedBy.isEmpty ? "no pool" : servedBy)"
        case .failure(let error):
            return "GET \(spec.app.health.path) through the proxy: \(error)"
        }
    }

    /// Nil when a fresh request through the proxy was answered by one of `pools`; otherwise what happened.
    func servedBy(oneOf pools: [Pool]) -> String? {
        switch ports.http.get(proxyProbeBase + spec.app.health.path, timeout: 2) {
        case .success(let response):
            let servedBy = response.header("X-Bgctl-Pool") ?? ""
            if pools.contains(where: { $0.rawValue == servedBy }) && (200..<500).contains(response.status) { return nil }
            return "GET \(spec.app.health.path) through the proxy answered \(response.status) from \(servedBy.isEmpty ? "no pool" : servedBy)"
        case .failure(let error):
            return "GET \(spec.app.health.path) through the proxy: \(error)"
        }
    }

    /// The files now in nginx/, as the proxy would load them on its next reload.
    func currentFiles() -> [String: String] {
        var files: [String: String] = [:]
        for name in [RenderedConfig.mainFile, RenderedConfig.siteFile] {
            if let data = ports.files.read((paths.nginxDir as NSString).appendingPathComponent(name)) {
                files[name] = String(decoding: data, as: UTF8.self)
            }
        }
        return files
    }

    /// Who acts, for the lock and the history: $USER, with a CI run id when one is present.
    var who: String { StateStore.who(environment: environment) }

    /// Takes the stack's lock for a mutating operation; nil for a dry run, which takes none.
    func lock(_ command: String, wait: Double) throws -> StackLock? {
        guard dryRun == nil else { return nil }
        let holder = StackLock.Holder(pid: getpid(), who: who, command: command, since: ports.clock.timestamp())
        return try StackLock.acquire(paths, holder: holder, wait: wait, ttl: spec.deploy.lockTTL.seconds, clock: ports.clock,
                                     onWait: { holder in report(.waiting("waiting for the lock held by \(holder?.description ?? "another bgctl")")) },
                                     onRecover: { message in report(.warning(message)) })
    }
}
