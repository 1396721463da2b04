import Foundation
import NginxConfigGen

/// How the waits write a duration: "2.5 s".
enum Waits {
    static func seconds(_ value: Double) -> String { String(format: "%.1f s", value) }
}

/// The steps that wait for an answer over HTTP (and docker's health state): polled on the clock
/// port. `interruptible`: a signal ends the wait (the step is at a safe point).
extension Stack {
    private func elapsed(since start: Double) -> Double { ports.clock.monotonic() - start }

    /// Waits until each pool is running, Docker-healthy and answers its health path. A required pool
    /// that never does fails the step; an optional one is reported as a warning.
    func waitHealthy(required: [Pool], optional: [Pool], interruptible: Bool) throws {
        let health = spec.app.health
        let bound = healthTimeout ?? (health.startPeriod.seconds + health.interval.seconds * Double(health.retries + 2) + 15)
        let start = ports.clock.monotonic()
        var pending = Set(required + optional)
        var lastReport = -1.0
        while !pending.isEmpty {
            let infos = try inspect(pending.sorted().map { spec.containerName($0) })
            for pool in pending.sorted() {
                guard let info = infos[spec.containerName(pool)] else { continue }
                if info.isHealthy && probePool(pool) == nil {
                    pending.remove(pool)
                    report(.done("\(pool.rawValue) is healthy (\(Waits.seconds(elapsed(since: start))))"))
                }
            }
            let waited = elapsed(since: start)
            if pending.isEmpty || waited > bound { break }
            if interruptible && ports.cancelled() { throw OrchestratorError.cancelled(step: "the rest of the health wait") }
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

    /// Fresh requests through the proxy reach `pool` within the verify timeout.
    func verify(_ pool: Pool) throws {
        let start = ports.clock.monotonic()
        var lastProblem = "no answer"
        while elapsed(since: start) < verifyTimeout {
            guard let problem = servedBy(pool) else {
                report(.done("\(pool.rawValue) answers through the proxy"))
                return
            }
            lastProblem = problem
            ports.clock.sleep(0.01)
        }
        throw OrchestratorError.verifyFailed(pool: pool, seconds: verifyTimeout, detail: lastProblem)
    }

    /// Fresh requests through the proxy are answered by one of `pools` within the verify timeout.
    func verify(_ pools: [Pool]) throws {
        let start = ports.clock.monotonic()
        var lastProblem = "no answer"
        while elapsed(since: start) < verifyTimeout {
            guard let problem = servedBy(oneOf: pools) else {
                report(.done("the proxy answers from \(pools.map(\.rawValue).joined(separator: " or "))"))
                return
            }
            lastProblem = problem
            ports.clock.sleep(0.01)
        }
        throw OrchestratorError.verifyFailed(pool: pools.first ?? .blue, seconds: verifyTimeout, detail: lastProblem)
    }

    /// Waits until the new proxy answers its own health path and routes to `pool`.
    func waitProxy(_ pool: Pool, interruptible: Bool) throws {
        let start = ports.clock.monotonic()
        let bound = healthTimeout ?? 30
        var lastProblem = "no answer yet"
        while elapsed(since: start) < bound {
            switch ports.http.get(proxyProbeBase + spec.proxy.healthPath, timeout: 1) {
            case .success(let response) where response.status == 200:
                guard let problem = servedBy(pool) else {
                    report(.done("proxy is serving \(pool.rawValue) on \(spec.proxy.listen) (\(Waits.seconds(elapsed(since: start))))"))
                    return
                }
                lastProblem = problem
            case .success(let response): lastProblem = "health path answered \(response.status)"
            case .failure(let error): lastProblem = "\(error)"
            }
            if interruptible && ports.cancelled() { throw OrchestratorError.cancelled(step: "the rest of the proxy wait") }
            ports.clock.sleep(0.1)
        }
        throw OrchestratorError.unhealthy(what: "the proxy \(spec.proxyContainerName)",
                                          detail: "\(lastProblem)\n\(diagnosis(spec.proxyContainerName, pool: nil))")
    }

    /// The spec's smoke checks against the pool's preview port.
    func smokeChecks(_ pool: Pool) throws {
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
}
