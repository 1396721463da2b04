import Foundation
import NginxConfigGen

public struct SwitchOutcome: Sendable {
    public var from: Pool
    public var to: Pool
    public var alreadyLive: Bool
    /// Seconds per step, in order: check, test, reload, verify.
    public var timings: [(String, Double)]
    public var total: Double
}

extension Stack {
    /// Makes `target` the live pool with an nginx reload. Order: lock → check the target → render
    /// the candidate → `nginx -t` → swap files → reload → verify through the proxy → record. A
    /// failure after the swap restores and reloads the previous files, so traffic never stays on an
    /// unchecked pool.
    /// `alreadyLocked`: the caller (deploy, rollback) holds the stack's lock.
    public func switchTo(_ target: Pool, reason: String?, force: Bool, lockWait: Double, alreadyLocked: Bool = false) throws -> SwitchOutcome {
        let started = DispatchTime.now()
        let lock = alreadyLocked ? nil : try acquireLock("switch \(target.rawValue)", wait: lockWait)
        defer { lock?.release() }

        let state = try StateStore.load(paths)
        let from = state?.live ?? spec.active
        // The inspect doubles as the engine check: a daemon that does not answer is classified here.
        // The target's HTTP probe needs nothing from it, so both run at once.
        let (inspected, probed) = Concurrently.both(
            { try inspect([spec.containerName(target), spec.proxyContainerName]) },
            { force ? nil : probePool(target) })
        let containers = try inspected.get()
        let probeFailure = try probed.get()
        try checkOwnership(containers)
        guard let proxy = containers[spec.proxyContainerName], proxy.isRunning else {
            throw OrchestratorError.state("the proxy \(spec.proxyContainerName) is not running; run bgctl up first")
        }
        if target == from, servedBy(target) == nil {
            return SwitchOutcome(from: from, to: target, alreadyLive: true, timings: [], total: elapsed(since: started))
        }

        // nginx -t on the candidate runs while the target's health is checked: both must pass.
        let candidate = renderer.render(spec, live: target)
        var timings: [(String, Double)] = []
        let (testResult, checkResult) = Concurrently.both(
            { () throws -> Double in
                let step = DispatchTime.now()
                try prepare(candidate, proxy: proxy)
                return elapsed(since: step)
            },
            { () throws -> Double in
                let step = DispatchTime.now()
                try checkTarget(target, from: from, info: containers[spec.containerName(target)], probeFailure: probeFailure, force: force)
                return elapsed(since: step)
            })
        do {
            timings.append(("check", try checkResult.get()))
            timings.append(("nginx -t", try testResult.get()))
        } catch {
            try? FileManager.default.removeItem(atPath: paths.nextDir)
            throw error
        }
        timings += try install(candidate, expecting: target, proxy: proxy)
        TestedConfigs.record(candidate, by: proxy, paths)

        let entry = history("switch", from: from, to: target, reason: reason, result: "ok", started: started)
        try StateStore.save(StackState(project: spec.project, live: target, updatedAt: entry.time, lastSwitch: entry, deployed: state?.deployed), paths)
        try StateStore.append(entry, paths)
        return SwitchOutcome(from: from, to: target, alreadyLive: false, timings: timings, total: elapsed(since: started))
    }

    /// Docker health and the HTTP probe of the target's health path (`probeFailure`); `force` skips both.
    func checkTarget(_ target: Pool, from: Pool, info: ContainerInfo?, probeFailure: String?, force: Bool) throws {
        if force {
            report(.warning("--force: not checking that \(target.rawValue) is healthy"))
            return
        }
        guard let info else {
            throw OrchestratorError.unhealthy(what: "\(target.rawValue) (\(spec.containerName(target)))", detail: "the container does not exist; run bgctl up")
        }
        guard info.isHealthy else {
            throw OrchestratorError.unhealthy(what: "\(target.rawValue) (\(info.name))",
                                              detail: "container is \(info.state)\(info.health.map { ", health \($0)" } ?? ""); refusing to switch (traffic stays on \(from.rawValue))")
        }
        if let failure = probeFailure {
            throw OrchestratorError.unhealthy(what: "\(target.rawValue) (\(info.name))", detail: "\(failure); refusing to switch (traffic stays on \(from.rawValue))")
        }
        report(.done("\(target.rawValue) is healthy"))
    }

    /// Tests, installs and verifies a configuration (see `prepare` and `install`).
    @discardableResult
    func applyChecked(_ candidate: RenderedConfig, expecting target: Pool, proxy: ContainerInfo) throws -> [(String, Double)] {
        let step = DispatchTime.now()
        do {
            try prepare(candidate, proxy: proxy)
        } catch {
            try? FileManager.default.removeItem(atPath: paths.nextDir)
            throw error
        }
        let timings = [("nginx -t", elapsed(since: step))] + (try install(candidate, expecting: target, proxy: proxy))
        TestedConfigs.record(candidate, by: proxy, paths)
        return timings
    }

    /// Writes the candidate into nginx/next/ and has the proxy's nginx test it, unless this proxy
    /// container already accepted these exact bytes; the live files are untouched.
    func prepare(_ candidate: RenderedConfig, proxy: ContainerInfo) throws {
        try? FileManager.default.removeItem(atPath: paths.nextDir)
        try AtomicWriter.write(candidate, into: paths.nextDir)
        if TestedConfigs.accepted(candidate, by: proxy, paths) {
            report(.done("nginx -t: this proxy already accepted these exact bytes"))
            return
        }
        let test = try runner.run(StackPlan.nginxTest(spec, candidate: true), timeout: 30)
        guard test.succeeded else {
            throw OrchestratorError.configRejected(detail: (test.stderr + test.stdout).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        report(.done("nginx -t accepted the new configuration"))
    }

    /// Moves the tested candidate over the live files, reloads, and checks that fresh requests reach
    /// `target`. On any failure the previous files are restored and reloaded before the error is thrown.
    func install(_ candidate: RenderedConfig, expecting target: Pool, proxy: ContainerInfo) throws -> [(String, Double)] {
        defer { try? FileManager.default.removeItem(atPath: paths.nextDir) }
        var timings: [(String, Double)] = []
        var step = DispatchTime.now()
        let previous = currentFiles()
        for name in RenderedConfig.writeOrder where candidate.files[name] != nil {
            let source = (paths.nextDir as NSString).appendingPathComponent(name)
            let destination = (paths.nginxDir as NSString).appendingPathComponent(name)
            guard rename(source, destination) == 0 else {
                let reason = String(cString: strerror(errno))
                let restored = restore(previous, proxy: proxy)
                throw OrchestratorError.switchFailed(step: "installing the configuration", detail: "rename \(name): \(reason)", restored: restored)
            }
        }
        let reload = try reloadProxy(proxy)
        guard reload.succeeded else {
            let restored = restore(previous, proxy: proxy)
            throw OrchestratorError.switchFailed(step: "reload", detail: (reload.stderr + reload.stdout).trimmingCharacters(in: .whitespacesAndNewlines), restored: restored)
        }
        timings.append(("reload", elapsed(since: step)))
        step = DispatchTime.now()

        var lastProblem = "no answer"
        while elapsed(since: step) < verifyTimeout {
            guard let problem = servedBy(target) else {
                timings.append(("verify", elapsed(since: step)))
                report(.done("\(target.rawValue) answers through the proxy"))
                return timings
            }
            lastProblem = problem
            usleep(10_000)
        }
        let restored = restore(previous, proxy: proxy)
        throw OrchestratorError.switchFailed(step: "verify", detail: "\(target.rawValue) did not answer through the proxy within \(verifyTimeout) s (\(lastProblem))", restored: restored)
    }

    /// Puts back files that were live before and reloads; true when nginx took them.
    func restore(_ previous: [String: String], proxy: ContainerInfo) -> Bool {
        guard !previous.isEmpty else { return false }
        do {
            try AtomicWriter.write(RenderedConfig(files: previous), into: paths.nginxDir)
            let reload = try reloadProxy(proxy)
            report(.warning("restored the previous configuration\(reload.succeeded ? "" : " but the reload failed")"))
            return reload.succeeded
        } catch {
            return false
        }
    }

    /// SIGHUP to the nginx master: directly when it is a verified process of this host, else through
    /// `docker kill --signal HUP`.
    func reloadProxy(_ proxy: ContainerInfo) throws -> CommandResult {
        if LocalSignal.send(SIGHUP, pid: proxy.pid, containerID: proxy.id, command: "nginx") {
            return CommandResult(status: 0)
        }
        return try runner.run(StackPlan.nginxReload(spec), timeout: 30)
    }
}

extension Stack {
    /// The pool that was live before the current one, from the history.
    public func previousLive() throws -> (from: Pool, to: Pool) {
        guard let state = try StateStore.load(paths) else {
            throw OrchestratorError.state("the stack is not up (no \(paths.stateFile)); nothing to roll back")
        }
        let moves = StateStore.history(paths).filter {
            ($0.action == "switch" && $0.result == "ok") || ($0.action == "deploy" && $0.result == "promoted")
        }
        guard let last = moves.last(where: { $0.to == state.live }), let previous = last.from, previous != state.live else {
            throw OrchestratorError.state("the history has no switch to \(state.live.rawValue) to undo")
        }
        return (state.live, previous)
    }
}
