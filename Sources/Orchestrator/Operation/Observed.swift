import Foundation
import NginxConfigGen

/// What is there now, as inspect, ps, probes and the state folder say: the only input of a plan
/// besides the spec and the request.
public struct Observed: Sendable, Equatable {
    public enum Network: Sendable, Equatable {
        case missing
        case present(labels: [String: String], subnets: [String])
    }

    public var state: StackState?
    /// bgctl's containers by name; missing ones are absent.
    public var containers: [String: ContainerInfo] = [:]
    public var network: Network = .missing
    /// The files in nginx/ now, as the proxy would load them on its next reload.
    public var liveFiles: [String: String] = [:]
    /// The route in nginx/route/, which the proxy reads on every request once its configuration does.
    public var route: RouteReading = .missing
    /// Digests of configurations the running proxy container already accepted.
    public var tested: TestedConfigs?
    /// With proxy.tls: the fingerprint naming the folder in tls/ that the live configuration names,
    /// which nginx loads on its next reload; nil when it names none or the folder lacks a file.
    public var tlsFingerprint: String?
    /// False when the files in that folder no longer have the fingerprint it is named by (changed by hand).
    public var tlsIntact = true
    /// With proxy.tls: the entries in tls/, folders of pairs installed before among them.
    public var tlsEntries: [String] = []
    /// The pool that answered a fresh request through the proxy; nil when none did.
    public var servedBy: Pool?
    /// Per pool: nil when its health path answered 2xx on its preview port, else why not. Only probed pools appear.
    public var probeFailures: [Pool: String] = [:]
    public var probed: Set<Pool> = []
    /// Of the paths `down --purge` removes, those that exist.
    public var existingPaths: [String] = []
    public var history: [HistoryEntry] = []

    public init(state: StackState? = nil) {
        self.state = state
    }

    /// The live configuration reads the route (a stack made before routes does not, until its next up).
    public var readsRoute: Bool { Self.readsRoute(liveFiles) }

    static func readsRoute(_ files: [String: String]) -> Bool {
        files[RenderedConfig.siteFile]?.contains("\(Route.mount)/\(Route.currentLink)/") ?? false
    }

    /// The route in force as the proxy applies it: the route, when the configuration reads it;
    /// otherwise what state.json records (the pool a configuration before routes was rendered for).
    public var routeInForce: Route? {
        if readsRoute { return route.route }
        return state.map { Route(live: $0.live, canary: $0.canary) }
    }

    /// The live pool: the route's, else the recorded one, else the spec's `active`.
    public func live(_ spec: DeploymentSpec) -> Pool { routeInForce?.live ?? state?.live ?? spec.active }

    func isHealthy(_ pool: Pool, _ spec: DeploymentSpec) -> Bool {
        guard let info = containers[spec.containerName(pool)], info.isHealthy else { return false }
        return probed.contains(pool) && probeFailures[pool] == nil
    }
}

extension Stack {
    /// What a plan needs to know; each operation asks only for what it reads.
    public struct Needs: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let network = Needs(rawValue: 2)
        public static let files = Needs(rawValue: 8)
        public static let history = Needs(rawValue: 16)
    }

    /// Reads what is there with read-only commands and probes; changes nothing. `probe`: pools whose
    /// health path is checked, at the same time as the inspect.
    /// `containers`: the names to inspect (default: all four of bgctl's).
    public func observe(_ needs: Needs, probe: [Pool] = [], containers: [String]? = nil) throws -> Observed {
        var observed = Observed(state: try store.load())
        let names = containers ?? allContainerNames
        let (inspected, probes) = Parallel.both(
            { try inspect(names) },
            { probe.map { ($0, probePool($0)) } })
        observed.containers = try inspected.get()
        try checkOwnership(observed.containers)
        for (pool, failure) in try probes.get() {
            observed.probed.insert(pool)
            if let failure { observed.probeFailures[pool] = failure }
        }
        if needs.contains(.network) { observed.network = try inspectNetwork() }
        observed.liveFiles = currentFiles()
        observed.route = readRoute()
        if let installed = installedTLS() {
            observed.tlsFingerprint = installed.fingerprint
            observed.tlsIntact = installed.intact
        }
        if spec.proxy.tls != nil { observed.tlsEntries = ports.files.list(paths.tlsDir) ?? [] }
        if let proxy = observed.containers[spec.proxyContainerName], proxy.isRunning {
            observed.tested = TestedConfigs.load(paths, files: ports.files)
        }
        if needs.contains(.files) { observed.existingPaths = (paths.ownedPaths + [paths.challengeDir]).filter(ports.files.exists) }
        if needs.contains(.history) { observed.history = store.history() }
        return observed
    }

    func inspectNetwork() throws -> Observed.Network {
        let command = Docker.inspectNetwork(spec.network.name)
        let result = try ports.runner.run(command, timeout: 30)
        if result.succeeded {
            guard let network = NetworkInfo(inspectOutput: result.stdout) else { return .missing }
            return .present(labels: network.labels, subnets: network.subnets)
        }
        if result.failure == .noSuchObject { return .missing }
        throw OrchestratorError.classify(doing: "inspecting the network", command: command, result: result)
    }

    /// The pair the live configuration names (nil without proxy.tls, when the configuration names no
    /// folder in tls/, or when a file in it is missing): switches render with its fingerprint, so they
    /// keep the files the proxy has. `intact`: the files still have that fingerprint. With ACME the
    /// configuration names tls/live, and the link says which pair that is.
    func installedTLS() -> (fingerprint: String, intact: Bool)? {
        guard spec.proxy.tls != nil, let named = Self.tlsFolder(namedBy: currentFiles(), root: tlsRoot) else { return nil }
        let fingerprint: String
        if named == TLSLink.name {
            guard let target = ports.files.readLink(paths.tlsLink), TLSFiles.isFingerprint(target) else { return nil }
            fingerprint = target
        } else {
            fingerprint = named
        }
        guard let cert = ports.files.read(paths.tlsCertificate(fingerprint)), let key = ports.files.read(paths.tlsKey(fingerprint)) else {
            return nil
        }
        return (fingerprint, TLSFiles.fingerprint(certificate: Array(cert), key: Array(key)) == fingerprint)
    }

    /// Where the proxy sees tls/: its own mount, or the project's folder in the shared front.
    var tlsRoot: String { spec.front != nil ? FrontConfig.tlsRoot(spec.project) : StackPlan.tlsMount }

    /// The folder a configuration's `ssl_certificate` line names below `root` (the proxy's view of
    /// tls/), when it is a fingerprint or ACME's link (anything else, as an older layout's
    /// `tls/cert.pem`, names none).
    static func tlsFolder(namedBy files: [String: String], root: String = StackPlan.tlsMount) -> String? {
        let prefix = "ssl_certificate \(root)/"
        for name in files.keys.sorted() {
            for line in files[name, default: ""].split(separator: "\n") {
                let text = line.trimmingCharacters(in: .whitespaces)
                guard text.hasPrefix(prefix), text.hasSuffix("/cert.pem;") else { continue }
                let folder = String(text.dropFirst(prefix.count).dropLast("/cert.pem;".count))
                return TLSFiles.isFingerprint(folder) || folder == TLSLink.name ? folder : nil
            }
        }
        return nil
    }

    /// The pool a fresh request through the proxy reached, if any answered.
    func servedPool() -> Pool? {
        guard case .success(let response) = ports.http.get(proxyProbeBase + spec.app.health.path, timeout: 2),
              (200..<500).contains(response.status) else { return nil }
        return response.header("X-Bgctl-Pool").flatMap(Pool.init(rawValue:))
    }
}
