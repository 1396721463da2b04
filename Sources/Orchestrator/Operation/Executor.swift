import Foundation
import NginxConfigGen
import Watcher

/// Runs a plan's steps, in order, through the stack's ports; the only place where steps act.
/// A failure after `install` puts the previous configuration back and reloads before the error is
/// thrown, so traffic never stays on an unchecked configuration.
final class Executor {
    let stack: Stack
    /// Monotonic start of the operation: history durations count from here.
    let started: Double
    private(set) var timings: [(String, Double)] = []
    /// Set by `install`, cleared by `record`: what a later failure restores.
    private var restorePoint: (files: [String: String], proxy: ContainerInfo)?
    /// Set by `setRoute`, cleared by `record`: the route a later failure sets again (nil inside: there
    /// was none to go back to).
    private var routeRestore: Route??
    /// The verdict of an `analyse` step.
    private(set) var verdict: (DeployPolicy.Verdict, AnalysisFigures)?
    /// The verdict of an `analyseCanary` step.
    private(set) var canaryVerdict: CanaryStepVerdict?
    /// Opened when the new pool took traffic; `analyse` reads from here.
    var analysisLog: AccessLogReading?
    /// Written before each step acts; nil for sub-steps of `together` (their group is journaled).
    var journal: JournalWriter?
    /// False for a restore or a rollback: once started, a signal does not cut it short.
    var cancellable = true
    /// The analysis ended because a signal asked to stop.
    private(set) var aborted = false
    /// What each `removeImage` step found, in order.
    private(set) var removals: [ImageRemoval] = []

    init(stack: Stack, started: Double) {
        self.stack = stack
        self.started = started
    }

    private var ports: Ports { stack.ports }
    private var spec: DeploymentSpec { stack.spec }
    private var paths: StackPaths { stack.paths }
    private func report(_ event: StackEvent) { stack.report(event) }

    func run(_ plan: Plan) throws {
        do {
            for step in plan.steps { try run(step) }
        } catch {
            // A candidate that was staged but never installed is no one's configuration.
            if ports.files.exists(paths.nextDir) { try? ports.files.remove(paths.nextDir) }
            throw error
        }
    }

    /// Between installing a configuration and recording it, a signal is not a safe point.
    private var atSafePoint: Bool { cancellable && restorePoint == nil && routeRestore == nil }

    func run(_ step: Step) throws {
        if atSafePoint && ports.cancelled() { throw OrchestratorError.cancelled(step: step.name) }
        try journal?.starting(step)
        let begin = ports.clock.monotonic()
        do {
            try perform(step)
        } catch {
            if restorePoint != nil || routeRestore != nil {
                let restored = restore()
                throw OrchestratorError.switchFailed(step: step.name, detail: Self.describe(error), restored: restored)
            }
            throw error
        }
        timings.append((step.name, ports.clock.monotonic() - begin))
    }

    static func describe(_ error: Error) -> String {
        String(describing: error)
    }

    private func perform(_ step: Step) throws {
        switch step.action {
        case .createNetwork(let name, let subnet, let project):
            report(.step(step.description))
            let command = Docker.createNetwork(name, subnet: subnet, project: project)
            let created = try ports.runner.run(command, timeout: 60)
            guard created.succeeded else {
                if created.failure == .subnetOverlap { throw OrchestratorError.networkOverlap(network: name, subnet: subnet) }
                throw OrchestratorError.classify(doing: "creating the network", command: command, result: created)
            }
        case .removeNetwork:
            report(.step(step.description))
            try runAll(step, doing: "removing the network")
        case .createDirectories(let folders):
            for folder in folders { try ports.files.createDirectory(folder) }
        case .runContainer(let config):
            report(.step(step.description))
            let command = Docker.run(config)
            let result = try ports.runner.run(command, timeout: 300)
            guard result.succeeded else {
                // A failed `docker run` can leave the container behind in state Created.
                _ = try? ports.runner.run(Docker.remove(config.name), timeout: 30)
                throw OrchestratorError.classify(doing: step.description, command: command, result: result, image: config.image,
                                                 container: config.name, publish: config.publish, pull: config.pull.rawValue)
            }
        case .startContainer(let name):
            report(.step(step.description))
            try stack.require(Docker.start(name), doing: step.description, container: name)
        case .stopContainer(_, let timeout):
            report(.step(step.description))
            try runAll(step, doing: step.description, timeout: Double(timeout + 30))
        case .removeContainer(let name):
            report(.step(step.description))
            let result = try ports.runner.run(Docker.remove(name), timeout: 60)
            if !result.succeeded && result.failure != .noSuchObject {
                throw OrchestratorError.classify(doing: step.description, command: Docker.remove(name), result: result)
            }
        case .together(let steps):
            try together(steps)
        case .sequence(let steps):
            for inner in steps { try run(inner) }
        case .waitHealthy(let required, let optional):
            try waitHealthy(required: required, optional: optional)
        case .smokeChecks(let pool):
            try smokeChecks(pool)
        case .drain(let pool):
            report(.step(step.description))
            report(.done(drain(pool)))
        case .writeConfig(let config):
            try write(config, into: paths.nginxDir)
        case .writeTLS(let material):
            // A folder of its own: the installed configuration names another one until install, so
            // should bgctl die between the two writes, or nginx -t refuse, the proxy's files stay as they
            // were. (Only a pair changed by hand in the named folder is rewritten in place: it was broken.)
            guard TLSFiles.isFingerprint(material.fingerprint) else { throw OrchestratorError.tlsNotChecked }
            try ports.files.createDirectory(paths.tlsFolder(material.fingerprint))
            try ports.files.write(material.key.revealed, to: paths.tlsKey(material.fingerprint), mode: 0o600)
            try ports.files.write(material.certificate, to: paths.tlsCertificate(material.fingerprint), mode: 0o644)
        case .pruneTLS(let keep):
            for entry in ports.files.list(paths.tlsDir) ?? [] where entry != keep {
                let path = (paths.tlsDir as NSString).appendingPathComponent(entry)
                do {
                    try ports.files.remove(path)
                } catch {
                    report(.warning("could not remove \(paths.relative(path)), which no configuration names; the next bgctl up tries again"))
                }
            }
        case .stageConfig(let config):
            try ports.files.remove(paths.nextDir)
            try write(config, into: paths.nextDir)
        case .testConfig:
            let test = try ports.runner.run(StackPlan.nginxTest(spec, candidate: true), timeout: 30)
            guard test.succeeded else {
                try? ports.files.remove(paths.nextDir)
                throw OrchestratorError.configRejected(detail: (test.stderr + test.stdout).trimmingCharacters(in: .whitespacesAndNewlines))
            }
            report(.done("nginx -t accepted the new configuration"))
        case .installConfig(let config, let proxy):
            restorePoint = (stack.currentFiles(), proxy)
            defer { try? ports.files.remove(paths.nextDir) }
            for name in RenderedConfig.writeOrder where config.files[name] != nil {
                try ports.files.rename((paths.nextDir as NSString).appendingPathComponent(name),
                                       to: (paths.nginxDir as NSString).appendingPathComponent(name))
            }
        case .reload(let proxy):
            try reload(proxy)
        case .setRoute(let route):
            if routeRestore == nil { routeRestore = .some(stack.readRoute().route) }
            try stack.installRoute(route)
        case .writeRoute(let route):
            try stack.installRoute(route)
        case .verify(let pool):
            try verify(pool)
        case .verifyPools(let pools):
            try verify(pools)
        case .waitProxy(let pool):
            try waitProxy(pool)
        case .rememberTested(let config, let proxy):
            let info = try proxy ?? stack.inspect([spec.proxyContainerName])[spec.proxyContainerName]
            if let info { TestedConfigs.record(config, by: info, paths, files: ports.files) }
        case .analyse(let seconds):
            let log = analysisLog ?? ports.accessLog(paths.accessLog)
            verdict = analyse(log, seconds: seconds)
        case .analyseCanary(let routing, let seconds):
            let log = analysisLog ?? ports.accessLog(paths.accessLog)
            canaryVerdict = analyseCanary(log, routing, seconds: seconds)
        case .record(let record):
            try stack.record(record, started: started)
            restorePoint = nil
            routeRestore = nil
        case .removeFiles(let files):
            report(.step(step.description))
            for path in files { try ports.files.remove(path) }
        case .removeFolderIfEmpty(let folder):
            if ports.files.list(folder)?.isEmpty == true { try ports.files.remove(folder) }
        case .removeImage(let image, let bytes):
            let command = Docker.removeImage(image)
            let result = try ports.runner.run(command, timeout: 120)
            let removal = try ImageRemoval(image: image, bytes: bytes, command: command, result: result)
            removals.append(removal)
            switch removal.result {
            case .removed: report(.done("removed \(image)\(bytes.map { " (\(ByteCount.text($0)))" } ?? "")"))
            case .untagged: report(.done("untagged \(image): other tags still name the image, so no space was freed"))
            case .absent: report(.done("\(image) was already gone"))
            case .refused: report(.warning("docker would not remove \(image): \(removal.detail ?? "refused"); left in place"))
            }
        case .warn(let text):
            report(.warning(text))
        }
    }

    private func runAll(_ step: Step, doing: String, timeout: Double = 60) throws {
        for command in step.action.commands(spec) {
            try stack.require(command, doing: doing, timeout: timeout)
        }
    }

    private func write(_ config: RenderedConfig, into directory: String) throws {
        // The included file first: a reload never sees a main file naming a site file not yet written.
        for name in RenderedConfig.writeOrder {
            guard let contents = config.files[name] else { continue }
            try ports.files.write(contents, to: (directory as NSString).appendingPathComponent(name), mode: 0o644)
        }
    }

    /// Runs steps at the same time, each with its own executor; the first failure is thrown once all finished.
    private func together(_ steps: [Step]) throws {
        let stack = self.stack, started = self.started, cancellable = self.cancellable
        let results = Parallel.map(steps) { step in
            Result {
                let executor = Executor(stack: stack, started: started)
                executor.cancellable = cancellable
                try executor.run(step)
            }
        }
        for result in results { try result.get() }
    }

    /// Puts back the route and the files that were live before (the route first: it moves traffic at
    /// once) and reloads when the files changed; true when all of it took.
    private func restore() -> Bool {
        var restored = true
        if let previous = routeRestore {
            routeRestore = nil
            if let previous {
                do { try stack.installRoute(previous) } catch { restored = false }
            }
        }
        if let point = restorePoint {
            restorePoint = nil
            guard !point.files.isEmpty else { return false }
            do {
                try write(RenderedConfig(files: point.files), into: paths.nginxDir)
                try reload(point.proxy)
            } catch {
                report(.warning("could not restore the previous configuration: \(Self.describe(error))"))
                return false
            }
        }
        report(.warning("restored the previous \(restored ? "route and configuration" : "configuration; the route could not be set back")"))
        return restored
    }

    /// A graceful reload that returns once the proxy's workers are all of the new generation: the
    /// workers that accepted connections before the signal have stopped accepting (nginx titles them
    /// "is shutting down" as it closes their listening sockets) and a new one is there.
    private func reload(_ proxy: ContainerInfo) throws {
        let before = ProxyWorkers(top: try? ports.runner.run(Docker.top(proxy.name), timeout: 10))
        let reload = try ports.signaller.send(.reload, to: proxy)
        guard reload.succeeded else {
            throw OrchestratorError.reloadFailed(detail: (reload.stderr + reload.stdout).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        // Without a listing to compare with, nothing can be waited for.
        guard let before, !before.accepting.isEmpty else { return }
        let start = ports.clock.monotonic()
        while true {
            if let now = ProxyWorkers(top: try? ports.runner.run(Docker.top(proxy.name), timeout: 10)),
               now.accepting.isDisjoint(with: before.accepting), !now.accepting.isEmpty {
                return
            }
            if elapsed(since: start) > stack.reloadTimeout {
                throw OrchestratorError.reloadFailed(detail: "workers of the previous configuration still accept connections \(Self.seconds(stack.reloadTimeout)) after the reload")
            }
            ports.clock.sleep(0.02)
        }
    }

    // MARK: Waiting and checking

    private func elapsed(since start: Double) -> Double { ports.clock.monotonic() - start }

    private static func seconds(_ value: Double) -> String { String(format: "%.1f s", value) }

    /// Waits until each pool is running, Docker-healthy and answers its health path.
    private func waitHealthy(required: [Pool], optional: [Pool]) throws {
        let health = spec.app.health
        let bound = stack.healthTimeout ?? (health.startPeriod.seconds + health.interval.seconds * Double(health.retries + 2) + 15)
        let start = ports.clock.monotonic()
        var pending = Set(required + optional)
        var lastReport = -1.0
        while !pending.isEmpty {
            let infos = try stack.inspect(pending.sorted().map { spec.containerName($0) })
            for pool in pending.sorted() {
                guard let info = infos[spec.containerName(pool)] else { continue }
                if info.isHealthy && stack.probePool(pool) == nil {
                    pending.remove(pool)
                    report(.done("\(pool.rawValue) is healthy (\(Self.seconds(elapsed(since: start))))"))
                }
            }
            let waited = elapsed(since: start)
            if pending.isEmpty || waited > bound { break }
            if atSafePoint && ports.cancelled() { throw OrchestratorError.cancelled(step: "the rest of the health wait") }
            if waited - lastReport >= 2 {
                lastReport = waited
                let states = pending.sorted().map { pool -> String in
                    let info = infos[spec.containerName(pool)]
                    return "\(pool.rawValue): \(info?.state ?? "missing")\(info?.health.map { "/\($0)" } ?? "")"
                }
                report(.waiting("waiting for \(states.joined(separator: ", ")) (\(Int(waited)) s of \(Int(bound)) s)"))
            }
            ports.clock.sleep(0.2)
        }
        for pool in required where pending.contains(pool) {
            throw OrchestratorError.unhealthy(what: "\(pool.rawValue) (\(spec.containerName(pool)))", detail: diagnosis(spec.containerName(pool), pool: pool))
        }
        for pool in optional where pending.contains(pool) {
            report(.warning("\(pool.rawValue) is not healthy; the proxy has no working backup.\n\(diagnosis(spec.containerName(pool), pool: pool))"))
        }
    }

    /// What a person needs to see when a container did not become healthy.
    func diagnosis(_ name: String, pool: Pool?) -> String {
        var lines: [String] = []
        if let info = try? stack.inspect([name])[name] {
            lines.append("container \(name): \(info.state)\(info.health.map { ", health \($0)" } ?? "")\(info.state == "exited" ? ", exit code \(info.exitCode)" : "")")
            if let last = info.healthLog.last { lines.append("last health check: \(last)") }
        } else {
            lines.append("container \(name) does not exist")
        }
        if let pool, let failure = stack.probePool(pool) { lines.append("HTTP probe: \(failure)") }
        let logs = stack.containerLogs(name)
        if !logs.isEmpty {
            lines.append("last log lines:")
            lines += logs.split(separator: "\n").map { "  \($0)" }
        }
        return lines.joined(separator: "\n")
    }

    /// Fresh requests through the proxy reach `pool` within the verify timeout.
    private func verify(_ pool: Pool) throws {
        let start = ports.clock.monotonic()
        var lastProblem = "no answer"
        while elapsed(since: start) < stack.verifyTimeout {
            guard let problem = stack.servedBy(pool) else {
                report(.done("\(pool.rawValue) answers through the proxy"))
                return
            }
            lastProblem = problem
            ports.clock.sleep(0.01)
        }
        throw OrchestratorError.verifyFailed(pool: pool, seconds: stack.verifyTimeout, detail: lastProblem)
    }

    /// Fresh requests through the proxy are answered by one of `pools` within the verify timeout.
    private func verify(_ pools: [Pool]) throws {
        let start = ports.clock.monotonic()
        var lastProblem = "no answer"
        while elapsed(since: start) < stack.verifyTimeout {
            guard let problem = stack.servedBy(oneOf: pools) else {
                report(.done("the proxy answers from \(pools.map(\.rawValue).joined(separator: " or "))"))
                return
            }
            lastProblem = problem
            ports.clock.sleep(0.01)
        }
        throw OrchestratorError.verifyFailed(pool: pools.first ?? .blue, seconds: stack.verifyTimeout, detail: lastProblem)
    }

    /// Waits until the new proxy answers its own health path and routes to `pool`.
    private func waitProxy(_ pool: Pool) throws {
        let start = ports.clock.monotonic()
        let bound = stack.healthTimeout ?? 30
        var lastProblem = "no answer yet"
        while elapsed(since: start) < bound {
            switch ports.http.get(stack.proxyProbeBase + spec.proxy.healthPath, timeout: 1) {
            case .success(let response) where response.status == 200:
                guard let problem = stack.servedBy(pool) else {
                    report(.done("proxy is serving \(pool.rawValue) on \(spec.proxy.listen) (\(Self.seconds(elapsed(since: start))))"))
                    return
                }
                lastProblem = problem
            case .success(let response): lastProblem = "health path answered \(response.status)"
            case .failure(let error): lastProblem = "\(error)"
            }
            if atSafePoint && ports.cancelled() { throw OrchestratorError.cancelled(step: "the rest of the proxy wait") }
            ports.clock.sleep(0.1)
        }
        throw OrchestratorError.unhealthy(what: "the proxy \(spec.proxyContainerName)",
                                          detail: "\(lastProblem)\n\(diagnosis(spec.proxyContainerName, pool: nil))")
    }

    /// The spec's smoke checks against the pool's preview port.
    private func smokeChecks(_ pool: Pool) throws {
        for check in spec.deploy.smoke {
            let url = "http://127.0.0.1:\(spec.pool(pool).previewPort)\(check.path)"
            switch ports.http.get(url, timeout: max(2, spec.app.health.timeout.seconds)) {
            case .success(let response) where response.status == check.status:
                report(.done("smoke check GET \(check.path) answered \(response.status)"))
            case .success(let response):
                throw OrchestratorError.smokeFailed(pool: pool, path: check.path, detail: "answered \(response.status), expected \(check.status)")
            case .failure(let error):
                throw OrchestratorError.smokeFailed(pool: pool, path: check.path, detail: "\(error)")
            }
        }
    }

    /// Waits until nginx has nothing in flight to `pool`: no old workers still shutting down and no log
    /// line for the pool for `deploy.drain_quiet`, or until `deploy.drain_timeout`. Says which happened.
    private func drain(_ pool: Pool) -> String {
        let quiet = spec.deploy.drainQuiet.seconds
        let timeout = spec.deploy.drainTimeout.seconds
        let start = ports.clock.monotonic()
        let log = ports.accessLog(paths.accessLog)
        var seen = 0
        var lastSeen = 0.0
        while true {
            let now = elapsed(since: start)
            _ = log.read()
            let count = log.requests(to: pool)
            if count != seen {
                seen = count
                lastSeen = now
            }
            let oldWorkers = shuttingDownWorkers()
            if now - lastSeen >= quiet && oldWorkers == 0 {
                return "drained \(pool.rawValue) in \(Self.seconds(now)): no request to it for \(spec.deploy.drainQuiet) and no old nginx workers"
            }
            if atSafePoint && ports.cancelled() {
                return "drain of \(pool.rawValue) cut short by a signal"
            }
            if now >= timeout {
                return "drain timeout (\(spec.deploy.drainTimeout)) passed for \(pool.rawValue): \(oldWorkers) old nginx worker(s) still shutting down, last request to it \(Self.seconds(now - lastSeen)) ago"
            }
            ports.clock.sleep(0.2)
        }
    }

    /// nginx workers of an earlier configuration that are still finishing their connections.
    private func shuttingDownWorkers() -> Int {
        ProxyWorkers(top: try? ports.runner.run(Docker.top(spec.proxyContainerName), timeout: 10))?.shuttingDown.count ?? 0
    }

    /// Polls the log until the verdict is clear: an early failure, or the time (and any extension) is up.
    private func analyse(_ log: AccessLogReading, seconds: Double) -> (DeployPolicy.Verdict, AnalysisFigures) {
        let policy = DeployPolicy(spec: spec)
        let start = ports.clock.monotonic()
        var figures = AnalysisFigures()
        var lastReport = 0.0
        report(.step("analysing for \(Int(seconds)) s"))
        while true {
            ports.clock.sleep(0.25)
            figures = log.read()
            figures.seconds = elapsed(since: start)
            if ports.cancelled() {
                aborted = true
                return (.rollback("aborted by a signal after \(Int(figures.seconds)) s of analysis: \(figures.summary)"), figures)
            }
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

    /// Compares the canary with the baseline over the same lines until the step's verdict is clear: a
    /// failure as soon as enough requests reached the canary, a pass once `seconds` are up, and while
    /// too few requests reached it, more time up to deploy.extend_limit, after which the step fails —
    /// an unjudged canary is never given more traffic. A signal ends it as aborted.
    private func analyseCanary(_ log: AccessLogReading, _ routing: CanaryRouting, seconds: Double) -> CanaryStepVerdict {
        let policy = CanaryPolicy(spec: spec)
        let limit = max(seconds, spec.deploy.extendLimit.seconds)
        let start = ports.clock.monotonic()
        var figures = CanaryFigures(canaryPool: routing.pool, canary: PoolFigures(), baseline: PoolFigures())
        var lastReport = 0.0
        var extending = false
        report(.step("analysing \(routing.pool.rawValue) at \(routing.percent)% against \(routing.baseline.rawValue) for \(Int(seconds)) s"))
        while true {
            ports.clock.sleep(0.25)
            _ = log.read()
            figures = CanaryFigures(canaryPool: routing.pool, canary: log.figures(of: routing.pool), baseline: log.figures(of: routing.baseline),
                                    seconds: elapsed(since: start))
            if ports.cancelled() {
                return CanaryStepVerdict(routing: routing, result: .aborted,
                                         reason: "aborted by a signal after \(Int(figures.seconds)) s at \(routing.percent)%: \(figures.summary)", figures: figures)
            }
            let decision = policy.judge(figures)
            switch decision {
            case .fail(let reason):
                return CanaryStepVerdict(routing: routing, result: .failed, reason: reason, figures: figures)
            case .pass(let reason) where figures.seconds >= seconds:
                return CanaryStepVerdict(routing: routing, result: .passed, reason: reason, figures: figures)
            case .inconclusive(let reason) where figures.seconds >= limit:
                let why = limit > seconds ? "after extending the step to deploy.extend_limit (\(spec.deploy.extendLimit))" : "when the step ended"
                return CanaryStepVerdict(routing: routing, result: .failed, reason: "inconclusive \(why): \(reason)", figures: figures)
            case .inconclusive(let reason) where figures.seconds >= seconds && !extending:
                extending = true
                report(.waiting("extending the \(routing.percent)% step (at most to \(spec.deploy.extendLimit)): \(reason)"))
            default:
                break
            }
            if figures.seconds - lastReport >= 5 {
                lastReport = figures.seconds
                report(.waiting("\(routing.percent)%: \(figures.summary)"))
            }
        }
    }
}

/// How one canary step ended, with what it saw.
struct CanaryStepVerdict: Sendable, Equatable {
    enum Result: String, Sendable {
        case passed, failed, aborted
    }

    var routing: CanaryRouting
    var result: Result
    var reason: String
    var figures: CanaryFigures

    var record: CanaryStepRecord {
        var flat = figures.dictionary
        flat["weight"] = Double(routing.percent)
        return CanaryStepRecord(weight: routing.percent, result: result.rawValue, reason: reason, figures: flat)
    }
}
