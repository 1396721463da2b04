import Foundation
import NginxConfigGen
import Support

/// `bgctl status --json`: a stable, documented shape (see README). Keys are snake_case.
public struct StackStatus: Codable, Sendable {
    public struct PoolStatus: Codable, Sendable {
        public var container: String
        public var state: String
        public var health: String?
        public var image: String?
        public var release: String
        public var uptimeSeconds: Int?
        public var previewPort: Int
        public var probe: String
        public var live: Bool

        enum CodingKeys: String, CodingKey {
            case container, state, health, image, release, probe, live
            case uptimeSeconds = "uptime_seconds"
            case previewPort = "preview_port"
        }
    }

    public struct ProxyStatus: Codable, Sendable {
        public var container: String
        public var state: String
        public var health: String?
        public var listen: String
        public var servedBy: String?
        public var probe: String
        public var configInSync: Bool
        /// Behind the shared front: the names it routes to this project; empty with its own proxy.
        public var hosts: [String] = []

        enum CodingKeys: String, CodingKey {
            case container, state, health, listen, probe, hosts
            case servedBy = "served_by"
            case configInSync = "config_in_sync"
        }
    }

    /// proxy.tls as the proxy serves it: the copy of the certificate in tls/.
    public struct TLSStatus: Codable, Sendable, Equatable {
        public var listen: String
        /// When the installed certificate expires (ISO 8601); null when none is installed.
        public var notAfter: String?
        /// Whole days until then, negative once expired; null when none is installed.
        public var daysLeft: Int?
        /// Whether the files proxy.tls names are the ones installed (false: run bgctl up); null when
        /// they could not be read and checked.
        public var filesInSync: Bool?

        enum CodingKeys: String, CodingKey {
            case listen
            case notAfter = "not_after"
            case daysLeft = "days_left"
            case filesInSync = "files_in_sync"
        }

        /// Unknown values are null, never left out.
        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(listen, forKey: .listen)
            try container.encode(notAfter, forKey: .notAfter)
            try container.encode(daysLeft, forKey: .daysLeft)
            try container.encode(filesInSync, forKey: .filesInSync)
        }
    }

    public struct WatcherContainerStatus: Codable, Sendable {
        public var container: String
        public var state: String
        public var enabled: Bool
    }

    /// A service of the live release (`services`), and the containers found for it on either pool.
    public struct ServiceStatus: Codable, Sendable {
        public struct Container: Codable, Sendable {
            public var name: String
            public var state: String
        }

        public var name: String
        public var release: String
        public var pool: Pool
        public var containers: [Container]
    }

    public var project: String
    public var live: Pool
    /// healthy, degraded or not_serving; the exit status follows it (0, 3, 4).
    public var overall: String
    public var problems: [String]
    public var pools: [String: PoolStatus]
    public var proxy: ProxyStatus
    /// Null without proxy.tls.
    public var tls: TLSStatus?
    public var lastSwitch: HistoryEntry?
    public var lock: StackLock.Holder?
    public var stateDir: String
    public var watcher: WatcherContainerStatus
    /// The events container (`enabled`: it should run: the watcher does, on a local engine).
    public var events: WatcherContainerStatus
    /// An operation whose bgctl died before it ended; the next mutating command finishes or undoes it.
    public var interrupted: JournalEntry?
    /// During a canary deploy, each pool's percent of requests (`{"blue": 95, "green": 5}`); nil otherwise.
    public var weights: [String: Int]?
    /// The route folder in force (`blue`, `green+5`), as the proxy reads it; nil when there is none or it
    /// is damaged (a stack from before routes: none).
    public var route: String?
    public var services: [ServiceStatus] = []
    /// On a fleet's host: the pools the fleet agreed on (`FleetAgreement`), sorted; the host's fleet
    /// health path answers 200 while `live` is one of them. Nil when there is no agreement (not a
    /// fleet's host, or its agent has not agreed on anything yet).
    public var fleetAgreed: [Pool]?

    enum CodingKeys: String, CodingKey {
        case project, live, overall, problems, pools, proxy, tls, lock, watcher, events, interrupted, weights, route, services
        case lastSwitch = "last_switch"
        case stateDir = "state_dir"
        case fleetAgreed = "fleet_agreed"
    }
}

extension Stack {
    /// Reads what runs and probes it; changes nothing. `tlsSource`: proxy.tls's files as the caller
    /// read and checked them, compared with the installed copies (nil: not compared).
    public func status(tlsSource: Result<TLSMaterial, TLSIssue>? = nil) throws -> StackStatus {
        try ensureEngine()
        let containers = try inspect(allContainerNames)
        let state = try store.load()
        var problems: [String] = []
        let files = currentFiles()
        let routeReading = readRoute()
        // The route is the proxy's truth once its configuration reads it; before that (a stack made
        // before routes) the configuration was rendered for the pool state.json records.
        let readsRoute = Observed.readsRoute(files)
        let route = readsRoute ? routeReading.route : state.map { Route(live: $0.live, canary: $0.canary) }
        let live = route?.live ?? state?.live ?? spec.active
        if readsRoute {
            switch routeReading {
            case .missing: problems.append("the proxy has no route in \(paths.relative(paths.routeDir))/ and serves blue by default (run bgctl up)")
            case .damaged(let why): problems.append("the route is damaged (\(why)); the proxy serves blue by default (run bgctl up)")
            case .route(let route):
                if let state, state.live != route.live || state.canary != route.canary, journal.interrupted() == nil {
                    let byWatcher = watcherFailover().map { $0.to == route.live.rawValue ? "; the watcher moved it at \($0.at) because \($0.from) stopped answering its health path" : "" } ?? ""
                    problems.append("state.json records \(state.live.rawValue) live but the route serves \(route)\(byWatcher) (bgctl switch \(route.live.rawValue) records it; bgctl switch \(state.live.rawValue) moves it back once that pool is healthy)")
                }
            }
        }
        var pools: [String: StackStatus.PoolStatus] = [:]
        var healthy: [Pool: Bool] = [:]
        for pool in Pool.allCases {
            let name = spec.containerName(pool)
            let info = containers[name]
            let ours = info.map { $0.labels[Docker.label] == spec.project } ?? true
            let probe = info?.isRunning == true ? (probePool(pool) ?? "ok") : "not probed"
            let isHealthy = ours && (info?.isHealthy ?? false) && probe == "ok"
            healthy[pool] = isHealthy
            if !isHealthy {
                let what = info == nil ? "missing" : (ours ? "\(info!.state)\(info!.health.map { "/\($0)" } ?? "")" : "not created by bgctl")
                problems.append("\(pool == live ? "live" : (pool == state?.canary?.pool ? "canary" : "idle")) pool \(pool.rawValue) is not healthy (\(what)\(probe != "ok" && probe != "not probed" ? "; \(probe)" : ""))")
            }
            pools[pool.rawValue] = StackStatus.PoolStatus(
                container: name, state: info?.state ?? "missing", health: info?.health, image: info?.image,
                release: info?.labels["io.bgctl.release"] ?? spec.pool(pool).release,
                uptimeSeconds: info?.isRunning == true ? info?.startedAt.map { Int(ports.clock.now().timeIntervalSince($0)) } : nil,
                previewPort: spec.pool(pool).previewPort, probe: probe, live: pool == live)
        }

        let proxyInfo = containers[spec.proxyContainerName]
        var servedBy: String?
        var proxyProbe = "not probed"
        // The proxy's own health endpoint, asked from outside: the image has nothing to run a check with.
        var proxyHealth: String?
        if proxyInfo?.isRunning == true {
            if case .success(let response) = ports.http.get(proxyProbeBase + spec.proxy.healthPath, timeout: 2),
               response.status == 200 {
                proxyHealth = "healthy"
            } else {
                proxyHealth = "unhealthy"
            }
            switch ports.http.get(proxyProbeBase + spec.app.health.path, timeout: 2) {
            case .success(let response):
                servedBy = response.header("X-Bgctl-Pool").flatMap { $0.isEmpty ? nil : $0 }
                proxyProbe = (200..<300).contains(response.status) ? "ok" : "answered \(response.status)"
            case .failure(let error):
                proxyProbe = "\(error)"
            }
        }
        let canary = route?.canary
        let installedTLS = installedTLS()
        let inSync = files == renderer.render(spec, tlsFingerprint: installedTLS?.fingerprint).files
        let interrupted = journal.interrupted()
        if !inSync && interrupted == nil { problems.append("the proxy's configuration differs from what bgctl renders now (run bgctl up)") }
        let serving = proxyInfo?.isRunning == true && proxyProbe == "ok"
        if !serving { problems.insert("the proxy is not serving (\(proxyInfo?.state ?? "missing"); \(proxyProbe))", at: 0) }
        if let interrupted {
            problems.insert("\(interrupted.summary); the next mutating command (or bgctl recover) finishes or undoes it", at: 0)
        }
        // An interrupted switch may serve its target before state.json says so: that is not a failover.
        // Nor is a canary's share of the requests.
        let switching = [interrupted?.from, interrupted?.to, canary?.pool].compactMap { $0?.rawValue }
        if serving, let servedBy, servedBy != live.rawValue, !switching.contains(servedBy) {
            problems.append("requests are served by \(servedBy), not the live pool \(live.rawValue) (failover)")
        }
        let watcherInfo = containers[spec.watcherContainerName]
        if spec.watcherEnabled && watcherInfo?.isRunning != true {
            problems.append("the watcher \(spec.watcherContainerName) is not running (\(watcherInfo?.state ?? "missing")): nobody is alerted")
        }
        let eventsInfo = containers[spec.eventsContainerName]
        let eventsEnabled = spec.watcherEnabled && { if case .socket = events { return true }; return false }()
        if eventsEnabled && eventsInfo?.isRunning != true {
            problems.append("the events container \(spec.eventsContainerName) is not running (\(eventsInfo?.state ?? "missing")): no alert when a pool or the proxy dies (run bgctl up)")
        }
        let services = ServiceReport.make(spec, live: live, containers: containers)
        for service in services {
            let running = service.containers.filter { $0.state == "running" && $0.name.hasPrefix("\(spec.project)-\(live.rawValue)-") }.count
            if running < service.wanted {
                problems.append("service \(service.name): \(running) of \(service.wanted) replica\(service.wanted == 1 ? "" : "s") running on \(live.rawValue) (bgctl up starts them)")
            }
            let other = service.containers.filter { !$0.name.hasPrefix("\(spec.project)-\(live.rawValue)-") && $0.state == "running" }
            if !other.isEmpty {
                problems.append("service \(service.name) also runs on \(live == .blue ? "green" : "blue"), which is not live: \(other.map(\.name).joined(separator: ", ")) (bgctl up stops them)")
            }
        }
        // With ACME the pair to compare with is the stack's own, in its store.
        let source = tlsSource ?? acmeMaterial().map { .success($0) }
        let tls = spec.proxy.tls.map { tls in
            tlsStatus(tls, installed: installedTLS, source: source, proxyRunning: proxyInfo?.isRunning == true, problems: &problems)
        }
        // On a fleet's host: what its fleet health path tells the load balancer in front.
        var fleetAgreed: [Pool]?
        if let path = spec.fleetHealthPath, let agreed = fleetAgreement() {
            fleetAgreed = agreed.sorted()
            if !agreed.contains(live) { problems.append(Self.fleetProblem(live: live, agreed: agreed, healthPath: path)) }
        }
        let overall = !serving ? "not_serving" : (problems.isEmpty ? "healthy" : "degraded")
        return StackStatus(
            project: spec.project, live: live, overall: overall, problems: problems, pools: pools,
            proxy: StackStatus.ProxyStatus(container: spec.proxyContainerName, state: proxyInfo?.state ?? "missing",
                                           health: proxyHealth, listen: spec.proxy.listen.description,
                                           servedBy: servedBy, probe: proxyProbe, configInSync: inSync, hosts: spec.front == nil ? [] : spec.proxy.hosts),
            tls: tls,
            lastSwitch: state?.lastSwitch, lock: StackLock.currentHolder(paths), stateDir: paths.stateDir,
            watcher: StackStatus.WatcherContainerStatus(container: spec.watcherContainerName, state: watcherInfo?.state ?? "missing",
                                                        enabled: spec.watcherEnabled),
            events: StackStatus.WatcherContainerStatus(container: spec.eventsContainerName, state: eventsInfo?.state ?? "missing",
                                                       enabled: eventsEnabled),
            interrupted: interrupted, weights: canary?.weights, route: routeReading.route?.folderName,
            services: services.map { service in
                StackStatus.ServiceStatus(name: service.name, release: service.release, pool: service.pool,
                                          containers: service.containers.map { .init(name: $0.name, state: $0.state) })
            },
            fleetAgreed: fleetAgreed)
    }

    /// Why the load balancer in front of the fleet drains this host.
    static func fleetProblem(live: Pool, agreed: Set<Pool>, healthPath: String) -> String {
        let on = agreed.isEmpty ? "no pool (this host is out)" : agreed.sorted().map(\.rawValue).joined(separator: " and ")
        return "this host serves \(live.rawValue), but the fleet agreed on \(on): its fleet health path \(healthPath) answers 503, so the load balancer drains it"
    }

    /// The installed certificate's validity, and whether the files the spec names are the installed ones.
    /// An expired or not yet valid certificate and files not installed yet are problems; one that
    /// expires soon is not (status tells by `days_left`; validate, render and up warn).
    /// `installed`: the pair the live configuration names (`installedTLS`).
    func tlsStatus(_ tls: TLSSpec, installed: (fingerprint: String, intact: Bool)?, source: Result<TLSMaterial, TLSIssue>?,
                   proxyRunning: Bool, problems: inout [String]) -> StackStatus.TLSStatus {
        let now = ports.clock.now()
        var status = StackStatus.TLSStatus(listen: tls.listen.description)
        if let installed, let pem = ports.files.read(paths.tlsCertificate(installed.fingerprint)),
           let info = TLSFiles.certificateInfo(pem: Array(pem)) {
            status.notAfter = CertificateInfo.format(info.notAfter)
            status.daysLeft = info.daysLeft(at: now)
            if now >= info.notAfter {
                problems.append("the certificate served on \(tls.listen) expired on \(CertificateInfo.format(info.notAfter)); renew it and run bgctl up")
            } else if now < info.notBefore {
                problems.append("the certificate served on \(tls.listen) is not valid before \(CertificateInfo.format(info.notBefore))")
            }
        } else if proxyRunning {
            problems.append("no certificate is installed in \(paths.relative(paths.tlsDir))/ for \(tls.listen) (run bgctl up)")
        }
        if let installed, !installed.intact {
            problems.append("the certificate or key in \(paths.relative(paths.tlsFolder(installed.fingerprint)))/ changed since bgctl up installed them (run bgctl up to write them again)")
        }
        switch source {
        case .success(let material):
            status.filesInSync = installed.map { material.fingerprint == $0.fingerprint && $0.intact } ?? false
            if let installed, material.fingerprint != installed.fingerprint {
                problems.append("the certificate or key in proxy.tls changed since bgctl up installed them (run bgctl up to load them)")
            }
        case .failure(let issue):
            problems.append("proxy.tls.\(issue.file.rawValue): \(issue.message)")
        case nil:
            break
        }
        return status
    }
}

extension Stack {
    /// The watcher's last route move (watcher/failover.json), checked: pools by name, the time as ISO 8601.
    func watcherFailover() -> (from: String, to: String, at: String)? {
        let path = (paths.watcherDir as NSString).appendingPathComponent("failover.json")
        guard let bytes = BoundedRead.contents(of: path, limit: 4096),
              let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let from = (object["from"] as? String).flatMap(Pool.init(rawValue:)), let to = (object["to"] as? String).flatMap(Pool.init(rawValue:)),
              let at = object["at"] as? Double, at.isFinite, abs(at) < 1e11 else { return nil }
        return (from.rawValue, to.rawValue, CertificateInfo.format(Date(timeIntervalSince1970: at)))
    }
}
