/// Decides alerts from the stack's container events. Pure: events, the live pool and the time go in,
/// detections come out (the `AlertBook` then applies the cooldown, as for every other alert).
///
/// - a pool's container dies, is OOM-killed or turns unhealthy: `idle_pool_down` when it is not the
///   live pool (a failover has nothing to fail over to), `live_pool_down` when it is; resolved when
///   it starts again (once it is healthy, for a container whose health check was seen);
/// - a service's container dies `crashLoopDeaths` times within `crashLoopSeconds`: `crash_loop`,
///   resolved once it has run that long without dying;
/// - the proxy's container dies or is OOM-killed: `proxy_restarted`, resolved when it starts.
///
/// A death followed within `removalGrace` by the container's removal (`destroy`: `up` or `deploy`
/// recreating it, `down`) is an operation's doing, not an outage: no alert. So a death is decided
/// when `tick` finds it older than the grace, or at once when the container's next event is not its
/// removal.
public struct ContainerEventBook: Sendable {
    public static let crashLoopDeaths = 3
    public static let crashLoopSeconds = 60.0
    public static let removalGrace = 0.5
    /// A service's container is retired with `docker stop` (its stop timeout), then `docker rm`: two
    /// commands apart, so its removal may come seconds after its death.
    public static let serviceRemovalGrace = 5.0

    static func grace(_ role: ContainerEvent.Role) -> Double { role == .service ? serviceRemovalGrace : removalGrace }

    private struct Death {
        var event: ContainerEvent
        var live: String?
        var detail: String
    }

    private struct Down {
        var kind: AlertKind
        var live: String
        var detail: String
    }

    private struct Loop {
        var deaths: [Double] = []
        var firing = false
        var running = false
        var lastDeath: Double = 0
        var detail = ""
    }

    /// Deaths not decided yet, by container name.
    private var pending: [String: Death] = [:]
    /// Pools that are down, by pool name.
    private var pools: [String: Down] = [:]
    /// Containers that sent a health event: they are back when healthy, not when started.
    private var healthChecked: Set<String> = []
    private var services: [String: Loop] = [:]
    private var proxyDown: String?

    public init() {}

    /// One event. `live`: the pool the route serves now (nil: not known; a pool then counts as idle).
    public mutating func observe(_ event: ContainerEvent, live: String?, at now: Double) -> [Detection] {
        let time = event.timeNano > 0 ? event.time : now
        if event.action == .kill { return [] }
        var out: [Detection] = []
        if event.action == .destroy {
            // Removed by an operation: the death it followed is no outage.
            pending[event.container] = nil
            return out
        }
        switch event.action {
        case .die, .oom:
            if let earlier = pending[event.container] {
                // oom, then die: one death, told by the oom.
                if earlier.event.action == .oom && event.action == .die { return out }
                out += settle(event.container)
            }
            let detail = event.action == .oom ? "was OOM-killed" : event.exitCode.map(Self.exited) ?? "exited"
            pending[event.container] = Death(event: event, live: live, detail: detail)
            return out
        default:
            // Any other event of a container settles its pending death first: it was not removed.
            out += settle(event.container)
        }
        switch (event.role, event.action) {
        case (.pool, .healthStatus):
            healthChecked.insert(event.container)
            guard let pool = event.pool else { break }
            if event.health == .unhealthy {
                out += poolDown(pool, live: live, detail: "turned unhealthy", at: time)
            } else {
                out += poolBack(pool, detail: "healthy again", at: time)
            }
        case (.pool, .start), (.pool, .restart):
            guard let pool = event.pool, !healthChecked.contains(event.container) else { break }
            out += poolBack(pool, detail: "running again", at: time)
        case (.service, .start), (.service, .restart):
            services[event.service ?? event.container, default: Loop()].running = true
        case (.proxy, .start), (.proxy, .restart):
            if proxyDown != nil {
                proxyDown = nil
                out.append(detection(.proxyRestarted, firing: false, at: time, detail: "started again"))
            }
        default:
            break
        }
        return out
    }

    /// Time passes: deaths past the removal grace are decided, and crash loops that ran quiet end.
    public mutating func tick(now: Double) -> [Detection] {
        var out: [Detection] = []
        for name in pending.keys.sorted() where now - (pending[name]?.event.time ?? now) >= Self.grace(pending[name]?.event.role ?? .pool) {
            out += settle(name)
        }
        for name in services.keys.sorted() {
            guard var loop = services[name], loop.firing, loop.running, now - loop.lastDeath >= Self.crashLoopSeconds else { continue }
            loop.firing = false
            loop.deaths = []
            services[name] = loop
            out.append(detection(.crashLoop, firing: false, at: now, subject: name,
                                 detail: "it ran \(Int(Self.crashLoopSeconds)) s without dying"))
        }
        return out
    }

    /// Decides every death still waiting for its grace: the input ended (`watch --once`), and no
    /// removal can follow.
    public mutating func settleAll() -> [Detection] {
        pending.keys.sorted().flatMap { settle($0) }
    }

    /// A condition still firing, as it stands, for the alert book's repeats.
    public func current(_ kind: AlertKind, subject: String, at now: Double) -> Detection? {
        switch kind {
        case .idlePoolDown, .livePoolDown:
            guard let down = pools[subject], down.kind == kind else { return nil }
            return detection(kind, firing: true, at: now, pool: subject, live: down.live, subject: subject, detail: down.detail)
        case .crashLoop:
            guard let loop = services[subject], loop.firing else { return nil }
            return detection(.crashLoop, firing: true, at: now, subject: subject, detail: loop.detail)
        case .proxyRestarted:
            return proxyDown.map { detection(.proxyRestarted, firing: true, at: now, detail: $0) }
        case .errorRate, .upstreamRetries, .failover, .routeMoved, .certificate:
            return nil
        }
    }

    /// Whether a death is still waiting for the removal grace (the loop then ticks soon).
    public var waiting: Bool { !pending.isEmpty }

    private mutating func settle(_ container: String) -> [Detection] {
        guard let death = pending.removeValue(forKey: container) else { return [] }
        let event = death.event
        let time = event.time
        switch event.role {
        case .pool:
            guard let pool = event.pool else { return [] }
            return poolDown(pool, live: death.live, detail: death.detail, at: time)
        case .service:
            let name = event.service ?? event.container
            var loop = services[name] ?? Loop()
            loop.running = false
            loop.lastDeath = time
            loop.deaths = loop.deaths.filter { $0 >= time - Self.crashLoopSeconds } + [time]
            var out: [Detection] = []
            if !loop.firing && loop.deaths.count >= Self.crashLoopDeaths {
                loop.firing = true
                loop.detail = "it died \(loop.deaths.count) times within \(Int(Self.crashLoopSeconds)) s (last: \(death.detail))"
                out.append(detection(.crashLoop, firing: true, at: time, subject: name, detail: loop.detail))
            } else if loop.firing {
                loop.detail = "it keeps dying (last: \(death.detail))"
            }
            services[name] = loop
            return out
        case .proxy:
            guard proxyDown == nil else { return [] }
            proxyDown = "its container \(death.detail)"
            return [detection(.proxyRestarted, firing: true, at: time, detail: proxyDown!)]
        case .watcher, .events, .front:
            return []
        }
    }

    private mutating func poolDown(_ pool: String, live: String?, detail: String, at time: Double) -> [Detection] {
        guard pools[pool] == nil else { return [] }
        let kind: AlertKind = live == pool ? .livePoolDown : .idlePoolDown
        pools[pool] = Down(kind: kind, live: live ?? "", detail: detail)
        return [detection(kind, firing: true, at: time, pool: pool, live: live ?? "", subject: pool, detail: detail)]
    }

    private mutating func poolBack(_ pool: String, detail: String, at time: Double) -> [Detection] {
        guard let down = pools.removeValue(forKey: pool) else { return [] }
        return [detection(down.kind, firing: false, at: time, pool: pool, live: down.live, subject: pool, detail: detail)]
    }

    private func detection(_ kind: AlertKind, firing: Bool, at time: Double, pool: String = "", live: String = "",
                           subject: String = "", detail: String) -> Detection {
        Detection(kind: kind, firing: firing, at: time, figures: .none, pool: pool, live: live, samples: [],
                  detail: detail, subject: subject)
    }

    static func exited(_ code: Int) -> String { "exited with code \(code)" }
}
