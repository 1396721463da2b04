import Foundation
import NginxConfigGen

public struct UpSummary: Sendable {
    public var live: Pool
    public var actions: [String]
    public var changed: Bool { !actions.isEmpty }
}

extension Stack {
    /// Brings the stack to the spec: network, both pools (in parallel), healthy, then the proxy on the
    /// rendered configuration. Unchanged parts are left alone; the live pool's container is never
    /// recreated while it serves.
    public func up(lockWait: Double) throws -> UpSummary {
        let started = DispatchTime.now()
        try ensureEngine()
        let lock = try acquireLock("up", wait: lockWait)
        defer { lock.release() }

        var existing = try inspect(allContainerNames)
        try checkOwnership(existing)
        var actions: [String] = []
        if try ensureNetwork() { actions.append("created network \(spec.network.name) (\(spec.network.subnet))") }
        for dir in [paths.stateDir, paths.nginxDir, paths.logsDir] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        let state = try StateStore.load(paths)
        let live = state?.live ?? spec.active

        // Pools, both at once.
        let plans = Pool.allCases.map { pool -> (Pool, ContainerConfig, StackPlan.PoolAction) in
            let desired = StackPlan.poolContainer(spec, pool, pull: pull)
            let action = StackPlan.poolAction(desired: desired, existing: existing[desired.name], isLive: pool == live && state != nil)
            return (pool, desired, action)
        }
        let errors = ErrorBox()
        DispatchQueue.concurrentPerform(iterations: plans.count) { index in
            let (pool, desired, action) = plans[index]
            do {
                switch action {
                case .keep:
                    break
                case .create:
                    report(.step("starting \(pool.rawValue) (\(desired.image))"))
                    try runContainer(desired, doing: "starting the \(pool.rawValue) pool")
                case .start:
                    report(.step("starting stopped container \(desired.name)"))
                    try require(Docker.start(desired.name), doing: "starting \(desired.name)", container: desired.name, publish: desired.publish)
                case .recreate(let reason):
                    report(.step("recreating \(pool.rawValue): \(reason)"))
                    try removeContainer(desired.name, doing: "removing the old \(pool.rawValue) container")
                    try runContainer(desired, doing: "starting the \(pool.rawValue) pool")
                case .keepChangedLive(let reason):
                    report(.warning("\(pool.rawValue) is live, so its container is kept although \(reason); switch to \(pool.other.rawValue) first (or use bgctl deploy), then run up again"))
                }
            } catch {
                errors.add(error)
            }
        }
        if let error = errors.first { throw error }
        for (pool, _, action) in plans {
            switch action {
            case .create: actions.append("started \(pool.rawValue)")
            case .start: actions.append("restarted \(pool.rawValue)")
            case .recreate(let reason): actions.append("recreated \(pool.rawValue) (\(reason))")
            case .keep, .keepChangedLive: break
            }
        }

        let liveName = spec.containerName(live)
        let idleName = spec.containerName(live.other)
        let unhealthy = try waitForPools([live, live.other])
        if unhealthy.contains(live) {
            throw OrchestratorError.unhealthy(what: "the live pool \(live.rawValue) (\(liveName))", detail: diagnosis(liveName, pool: live))
        }
        if unhealthy.contains(live.other) {
            report(.warning("the idle pool \(live.other.rawValue) is not healthy; the proxy starts without a working backup.\n\(diagnosis(idleName, pool: live.other))"))
        }

        // Proxy.
        existing = try inspect([spec.proxyContainerName])
        try checkOwnership(existing)
        let rendered = renderer.render(spec, live: live)
        let desiredProxy = StackPlan.proxyContainer(spec, paths: paths, pull: pull)
        let proxy = existing[spec.proxyContainerName]
        if let proxy, proxy.labels[Docker.hashLabel] == desiredProxy.labels[Docker.hashLabel], proxy.isRunning {
            if currentFiles() != rendered.files {
                try applyChecked(rendered, expecting: live, proxy: proxy)
                actions.append("reloaded the proxy with the new configuration")
            }
        } else {
            if let proxy {
                if proxy.isRunning {
                    report(.warning("recreating the proxy (its container settings changed): connections open now are closed"))
                }
                try removeContainer(proxy.name, doing: "removing the old proxy")
            }
            try AtomicWriter.write(rendered, into: paths.nginxDir)
            report(.step("starting the proxy on \(spec.proxy.listen)"))
            try runContainer(desiredProxy, doing: "starting the proxy")
            try waitForProxy(expecting: live)
            // nginx started on these bytes: as good as a passed nginx -t in this container.
            if let started = try inspect([spec.proxyContainerName])[spec.proxyContainerName] {
                TestedConfigs.record(rendered, by: started, paths)
            }
            actions.append(proxy == nil ? "started the proxy" : "recreated the proxy")
        }

        if let action = try ensureWatcher(existing: try inspect([spec.watcherContainerName])[spec.watcherContainerName]) {
            actions.append(action)
        }

        let now = StateStore.now()
        try StateStore.save(StackState(project: spec.project, live: live, updatedAt: now, lastSwitch: state?.lastSwitch, deployed: state?.deployed), paths)
        if !actions.isEmpty {
            try StateStore.append(history("up", to: live, result: "ok", started: started, detail: actions.joined(separator: "; ")), paths)
        }
        return UpSummary(live: live, actions: actions)
    }

    /// Runs the watcher container when `watch.enabled` (default: when an alert sink is configured),
    /// recreating it when its settings changed; removes it when the watcher is off.
    func ensureWatcher(existing: ContainerInfo?) throws -> String? {
        guard spec.watcherEnabled, let specFile else {
            guard let existing else { return nil }
            try checkOwnership([existing.name: existing])
            report(.step("removing the watcher (watch.enabled is off)"))
            try removeContainer(existing.name, doing: "removing the watcher")
            return "removed the watcher"
        }
        try FileManager.default.createDirectory(atPath: paths.watcherDir, withIntermediateDirectories: true)
        let desired = StackPlan.watcherContainer(spec, paths: paths, specFile: specFile, pull: pull)
        if let existing {
            try checkOwnership([existing.name: existing])
            if existing.labels[Docker.hashLabel] == desired.labels[Docker.hashLabel] {
                if existing.isRunning { return nil }
                try require(Docker.start(existing.name), doing: "starting the watcher")
                return "restarted the watcher"
            }
            report(.step("recreating the watcher (its settings changed)"))
            try removeContainer(existing.name, doing: "removing the old watcher")
        } else {
            report(.step("starting the watcher (\(desired.image))"))
        }
        try runContainer(desired, doing: "starting the watcher")
        return existing == nil ? "started the watcher" : "recreated the watcher"
    }

    /// Creates the network when missing; refuses one bgctl did not create or whose subnet differs.
    func ensureNetwork() throws -> Bool {
        let inspectCommand = Docker.inspectNetwork(spec.network.name)
        let result = try runner.run(inspectCommand, timeout: 30)
        if result.succeeded {
            guard let network = NetworkInfo(inspectOutput: result.stdout) else { return false }
            guard network.labels[Docker.label] == spec.project else {
                throw OrchestratorError.notOurs(kind: "network", name: spec.network.name, project: spec.project)
            }
            let subnets = network.subnets
            if !subnets.isEmpty && !subnets.contains(spec.network.subnet.description) {
                throw OrchestratorError.state("network \(spec.network.name) has subnet \(subnets.joined(separator: ", ")) but the spec wants \(spec.network.subnet); run bgctl down, then up")
            }
            return false
        }
        if !result.stderr.contains("No such network") && !result.stderr.lowercased().contains("not found") {
            throw OrchestratorError.classify(doing: "inspecting the network", command: inspectCommand, result: result)
        }
        let create = Docker.createNetwork(spec.network.name, subnet: spec.network.subnet.description, project: spec.project)
        let created = try runner.run(create, timeout: 60)
        guard created.succeeded else {
            if created.stderr.contains("overlap") {
                throw OrchestratorError.state("cannot create network \(spec.network.name): subnet \(spec.network.subnet) overlaps another network on this host; set network.subnet in the spec to a free /24")
            }
            throw OrchestratorError.classify(doing: "creating the network", command: create, result: created)
        }
        return true
    }

    /// The files now in nginx/, as the proxy would load them on its next reload.
    func currentFiles() -> [String: String] {
        var files: [String: String] = [:]
        for name in [RenderedConfig.mainFile, RenderedConfig.siteFile] {
            if let data = FileManager.default.contents(atPath: (paths.nginxDir as NSString).appendingPathComponent(name)) {
                files[name] = String(decoding: data, as: UTF8.self)
            }
        }
        return files
    }

    /// Waits until each pool is running, Docker-healthy and answers its health path; returns those that never did.
    func waitForPools(_ pools: [Pool]) throws -> Set<Pool> {
        let health = spec.app.health
        let bound = healthTimeout ?? (health.startPeriod.seconds + health.interval.seconds * Double(health.retries + 2) + 15)
        let started = DispatchTime.now()
        var pending = Set(pools)
        var lastReport = -1.0
        while !pending.isEmpty {
            let infos = try inspect(pending.map { spec.containerName($0) })
            for pool in pending {
                guard let info = infos[spec.containerName(pool)] else { continue }
                if info.state == "exited" || info.state == "dead" {
                    // Crashed at start: no point waiting for it.
                    if elapsed(since: started) > 2 { continue }
                }
                if info.isHealthy && probePool(pool) == nil {
                    pending.remove(pool)
                    report(.done("\(pool.rawValue) is healthy (\(String(format: "%.1f", elapsed(since: started))) s)"))
                }
            }
            let waited = elapsed(since: started)
            if pending.isEmpty || waited > bound { break }
            if waited - lastReport >= 2 {
                lastReport = waited
                let states = pending.sorted().map { pool -> String in
                    let info = infos[spec.containerName(pool)]
                    return "\(pool.rawValue): \(info?.state ?? "missing")\(info?.health.map { "/\($0)" } ?? "")"
                }
                report(.waiting("waiting for \(states.joined(separator: ", ")) (\(Int(waited)) s of \(Int(bound)) s)"))
            }
            usleep(200_000)
        }
        return pending
    }

    /// What a person needs to see when a container did not become healthy.
    func diagnosis(_ name: String, pool: Pool?) -> String {
        var lines: [String] = []
        if let info = try? inspect([name])[name] {
            lines.append("container \(name): \(info.state)\(info.health.map { ", health \($0)" } ?? "")\(info.state == "exited" ? ", exit code \(info.exitCode)" : "")")
            if let last = info.healthLog.last { lines.append("last health check: \(last)") }
        } else {
            lines.append("container \(name) does not exist")
        }
        if let pool, let failure = probePool(pool) { lines.append("HTTP probe: \(failure)") }
        let logs = containerLogs(name)
        if !logs.isEmpty {
            lines.append("last log lines:")
            lines += logs.split(separator: "\n").map { "  \($0)" }
        }
        return lines.joined(separator: "\n")
    }

    /// Waits until the proxy answers its own health path and routes to `live`.
    func waitForProxy(expecting live: Pool) throws {
        let started = DispatchTime.now()
        let bound = healthTimeout ?? 30
        var lastProblem = "no answer yet"
        while elapsed(since: started) < bound {
            switch http.get(proxyProbeBase + spec.proxy.healthPath, timeout: 1) {
            case .success(let response) where response.status == 200:
                if let problem = servedBy(live) { lastProblem = problem } else {
                    report(.done("proxy is serving \(live.rawValue) on \(spec.proxy.listen) (\(String(format: "%.1f", elapsed(since: started))) s)"))
                    return
                }
            case .success(let response): lastProblem = "health path answered \(response.status)"
            case .failure(let error): lastProblem = "\(error)"
            }
            usleep(100_000)
        }
        throw OrchestratorError.unhealthy(what: "the proxy \(spec.proxyContainerName)",
                                          detail: "\(lastProblem)\n\(diagnosis(spec.proxyContainerName, pool: nil))")
    }

    /// Nil when a fresh request through the proxy was answered by `pool`; otherwise what happened.
    func servedBy(_ pool: Pool) -> String? {
        switch http.get(proxyProbeBase + spec.app.health.path, timeout: 2) {
        case .success(let response):
            let servedBy = response.header("X-Bgctl-Pool") ?? ""
            if servedBy == pool.rawValue && (200..<500).contains(response.status) { return nil }
            return "GET \(spec.app.health.path) through the proxy answered \(response.status) from \(servedBy.isEmpty ? "no pool" : servedBy)"
        case .failure(let error):
            return "GET \(spec.app.health.path) through the proxy: \(error)"
        }
    }
}

/// Collects errors from concurrent work.
final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [Error] = []

    func add(_ error: Error) {
        lock.lock()
        errors.append(error)
        lock.unlock()
    }

    var first: Error? {
        lock.lock()
        defer { lock.unlock() }
        return errors.first
    }
}

enum Concurrently {
    /// Runs two blocking jobs at the same time and returns both outcomes.
    static func both<A, B>(_ a: () throws -> A, _ b: () throws -> B) -> (Result<A, Error>, Result<B, Error>) {
        nonisolated(unsafe) var first: Result<A, Error>?
        nonisolated(unsafe) var second: Result<B, Error>?
        withoutActuallyEscaping(a) { a in
            withoutActuallyEscaping(b) { b in
                nonisolated(unsafe) let jobs = (a, b)
                // Each index writes only its own slot; concurrentPerform returns after both finish.
                DispatchQueue.concurrentPerform(iterations: 2) { index in
                    if index == 0 { first = Result { try jobs.0() } } else { second = Result { try jobs.1() } }
                }
            }
        }
        return (first!, second!)
    }
}
