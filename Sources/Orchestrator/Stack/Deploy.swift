import Foundation
import NginxConfigGen

/// Reads the proxy's log for a deploy's analysis. Implemented by the CLI with the watcher's parser,
/// so Orchestrator does not depend on Watcher.
public protocol DeployAnalysis: AnyObject {
    /// Starts counting what is logged from now on.
    func begin()
    /// Figures for everything logged since `begin`.
    func figures() -> AnalysisFigures
}

public struct DeployRequest: Sendable {
    public var image: String
    public var release: String?
    public var env: [String: String] = [:]
    /// Seconds of analysis after the switch; nil takes deploy.analyze.
    public var analyze: Double?
    public var noSwitch = false
    public var lockWait: Double = 60
    public var reason: String?

    public init(image: String) {
        self.image = image
    }

    /// `spec` with `pool` running this release: its image and label, the pool's env plus `env`.
    public func applied(to spec: DeploymentSpec, on pool: Pool) -> DeploymentSpec {
        var next = spec
        var poolSpec = spec.pool(pool)
        poolSpec.image = image
        poolSpec.release = releaseLabel
        poolSpec.env = poolSpec.env.merging(env) { _, given in given }
        next.pools[pool] = poolSpec
        return next
    }

    /// The release label: as given, else the image's tag, else the image.
    public var releaseLabel: String {
        if let release, !release.isEmpty { return release }
        let name = image.split(separator: "@").first.map(String.init) ?? image
        if let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") { return String(name[name.index(after: colon)...]) }
        return "latest"
    }
}

public struct DeployOutcome: Sendable {
    public enum Result: String, Sendable {
        case staged
        case promoted
        case rolledBack = "rolled_back"
        case rollbackFailed = "rollback_failed"
    }

    public var result: Result
    public var target: Pool
    public var previous: Pool
    public var image: String
    public var release: String
    public var reason: String
    public var figures: AnalysisFigures?
    public var drain: String
    /// Seconds from the start of the deploy to its verdict, and from the switch to the verdict.
    public var total: Double
    public var analysed: Double
}

extension Stack {
    /// Ships an image to the idle pool and makes it live only if it proves healthy:
    /// lock → drain the idle pool → replace its container → healthy + smoke checks → switch →
    /// analyse the log → promote, or switch back to the previous pool (still running and warm).
    /// Failures before the switch leave the live pool untouched and throw.
    public func deploy(_ request: DeployRequest, analysis: DeployAnalysis) throws -> DeployOutcome {
        let started = DispatchTime.now()
        try ensureEngine()
        let lock = try acquireLock("deploy \(request.image)", wait: request.lockWait)
        defer { lock.release() }
        guard let state = try StateStore.load(paths) else {
            throw OrchestratorError.state("the stack is not up (no \(paths.stateFile)); run bgctl up first")
        }
        let live = state.live
        let target = live.other
        let containers = try inspect(allContainerNames)
        try checkOwnership(containers)
        guard containers[spec.proxyContainerName]?.isRunning == true else {
            throw OrchestratorError.state("the proxy \(spec.proxyContainerName) is not running; run bgctl up first")
        }
        report(.step("deploying \(request.image) (release \(request.releaseLabel)) to the idle pool \(target.rawValue); \(live.rawValue) stays live"))

        // The new release, on top of the pool's spec.
        var next = self
        next.spec = request.applied(to: spec, on: target)
        let poolSpec = next.spec.pool(target)
        let desired = StackPlan.poolContainer(next.spec, target, pull: pull)

        let drained = drain(target, present: containers[desired.name] != nil)
        report(.done(drained))
        if containers[desired.name] != nil {
            try removeContainer(desired.name, doing: "removing the old \(target.rawValue) container")
        }
        report(.step("starting \(target.rawValue) with \(request.image)"))
        try runContainer(desired, doing: "starting the new \(target.rawValue) container")
        if try next.waitForPools([target]).contains(target) {
            throw OrchestratorError.unhealthy(what: "the new release on \(target.rawValue)",
                                              detail: "\(next.diagnosis(desired.name, pool: target))\nNot switched: \(live.rawValue) is still live and untouched.")
        }
        try next.smokeCheck(target)

        var deployed = state.deployed ?? [:]
        deployed[target.rawValue] = DeployedRelease(image: request.image, release: request.releaseLabel, env: poolSpec.env,
                                                    at: StateStore.now())
        var saved = state
        saved.deployed = deployed
        try StateStore.save(saved, paths)

        if request.noSwitch {
            let reason = "staged on \(target.rawValue): try it on http://127.0.0.1:\(poolSpec.previewPort); bgctl switch \(target.rawValue) makes it live"
            try StateStore.append(history("deploy", from: live, to: target, reason: request.reason, result: "staged", started: started,
                                          detail: drained, image: request.image, release: request.releaseLabel), paths)
            return DeployOutcome(result: .staged, target: target, previous: live, image: request.image, release: request.releaseLabel,
                                 reason: reason, figures: nil, drain: drained, total: elapsed(since: started), analysed: 0)
        }

        _ = try next.switchTo(target, reason: "deploy \(request.releaseLabel)", force: false, lockWait: 0, alreadyLocked: true)
        analysis.begin()
        let switched = DispatchTime.now()
        report(.step("analysing \(target.rawValue) for \(Int(request.analyze ?? spec.deploy.analyze.seconds)) s"))
        let (verdict, figures) = next.analyse(analysis, seconds: request.analyze ?? spec.deploy.analyze.seconds, since: switched)

        var outcome = DeployOutcome(result: .promoted, target: target, previous: live, image: request.image, release: request.releaseLabel,
                                    reason: "", figures: figures, drain: drained, total: 0, analysed: elapsed(since: switched))
        switch verdict {
        case .promote(let reason), .rollback(let reason):
            outcome.reason = reason
        case .extend:
            break
        }
        if case .rollback(let reason) = verdict {
            report(.warning("rolling back: \(reason)"))
            do {
                _ = try next.switchTo(live, reason: "rollback of \(request.releaseLabel): \(reason)", force: false, lockWait: 0, alreadyLocked: true)
                outcome.result = .rolledBack
            } catch {
                outcome.result = .rollbackFailed
                outcome.reason = "\(reason); the rollback to \(live.rawValue) failed too: \(error)"
            }
        }
        outcome.total = elapsed(since: started)
        try StateStore.append(history("deploy", from: live, to: target, reason: request.reason ?? outcome.reason, result: outcome.result.rawValue,
                                      started: started, detail: "\(drained); \(outcome.reason)", image: request.image,
                                      release: request.releaseLabel, figures: figures.dictionary), paths)
        return outcome
    }

    /// Polls the analysis until the verdict is clear: an early failure, or the time (and any extension) is up.
    func analyse(_ analysis: DeployAnalysis, seconds: Double, since switched: DispatchTime) -> (DeployPolicy.Verdict, AnalysisFigures) {
        let policy = DeployPolicy(spec: spec)
        var figures = AnalysisFigures()
        var lastReport = 0.0
        while true {
            usleep(250_000)
            figures = analysis.figures()
            figures.seconds = elapsed(since: switched)
            if case .fail(let reason) = policy.judge(figures) {
                return (.rollback(reason), figures)
            }
            if figures.seconds - lastReport >= 5 {
                lastReport = figures.seconds
                report(.waiting("analysing: \(figures.summary)"))
            }
            guard figures.seconds >= seconds else { continue }
            let verdict = policy.verdict(figures, canExtend: figures.seconds < max(seconds, spec.deploy.extendLimit.seconds))
            if verdict != .extend { return (verdict, figures) }
        }
    }

    /// Runs the spec's smoke checks against the pool's preview port; throws with the failing response.
    func smokeCheck(_ pool: Pool) throws {
        for check in spec.deploy.smoke {
            let url = "http://127.0.0.1:\(spec.pool(pool).previewPort)\(check.path)"
            switch http.get(url, timeout: max(2, spec.app.health.timeout.seconds)) {
            case .success(let response) where response.status == check.status:
                report(.done("smoke check GET \(check.path) answered \(response.status)"))
            case .success(let response):
                throw OrchestratorError.unhealthy(what: "the new release on \(pool.rawValue)",
                    detail: "smoke check GET \(check.path) answered \(response.status), expected \(check.status): \(response.bodyText.prefix(300))\nNot switched.")
            case .failure(let error):
                throw OrchestratorError.unhealthy(what: "the new release on \(pool.rawValue)",
                    detail: "smoke check GET \(check.path): \(error)\nNot switched.")
            }
        }
    }

    /// Waits until nginx has nothing in flight to `pool`: no old workers still shutting down and no log
    /// line for the pool for `deploy.drain_quiet`, or until `deploy.drain_timeout`. Says which happened.
    func drain(_ pool: Pool, present: Bool) -> String {
        guard present else { return "\(pool.rawValue) had no container to drain" }
        let quiet = spec.deploy.drainQuiet.seconds
        let timeout = spec.deploy.drainTimeout.seconds
        let started = DispatchTime.now()
        var offset = (try? FileManager.default.attributesOfItem(atPath: paths.accessLog)[.size] as? Int) ?? 0
        var lastSeen = 0.0
        let marker = Array("\"pool\":\"\(pool.rawValue)\"".utf8)
        report(.step("draining \(pool.rawValue) (quiet \(spec.deploy.drainQuiet), at most \(spec.deploy.drainTimeout))"))
        while true {
            let now = elapsed(since: started)
            if let handle = FileHandle(forReadingAtPath: paths.accessLog) {
                handle.seek(toFileOffset: UInt64(offset))
                let data = handle.readDataToEndOfFile()
                handle.closeFile()
                offset += data.count
                if data.count >= marker.count, data.range(of: Data(marker)) != nil { lastSeen = now }
            }
            let oldWorkers = shuttingDownWorkers()
            if now - lastSeen >= quiet && oldWorkers == 0 {
                return "drained \(pool.rawValue) in \(String(format: "%.1f", now)) s: no request to it for \(spec.deploy.drainQuiet) and no old nginx workers"
            }
            if now >= timeout {
                return "drain timeout (\(spec.deploy.drainTimeout)) passed for \(pool.rawValue): \(oldWorkers) old nginx worker(s) still shutting down, last request to it \(String(format: "%.1f", now - lastSeen)) s ago"
            }
            usleep(200_000)
        }
    }

    /// nginx workers of an earlier configuration that are still finishing their connections.
    func shuttingDownWorkers() -> Int {
        guard let result = try? runner.run(Docker.top(spec.proxyContainerName), timeout: 10), result.succeeded else { return 0 }
        return result.stdout.split(separator: "\n").filter { $0.contains("is shutting down") }.count
    }
}
