import NginxConfigGen

/// What a switch does, decided from what is observed. Pure: no Docker, no files, no clock.
public enum SwitchPlanner {
    public struct Request: Sendable, Equatable {
        public var target: Pool
        public var reason: String?
        /// Skip the target's health check (the post-reload verification still runs).
        public var force: Bool

        public init(target: Pool, reason: String? = nil, force: Bool = false) {
            self.target = target
            self.reason = reason
            self.force = force
        }
    }

    /// Order: move the route (one rename: traffic moves with the next request) → verify through the
    /// proxy → record. The configuration is applied too (stage → `nginx -t` → install → reload) only
    /// when it differs from what bgctl renders now: a stack made before routes, or a spec changed
    /// since up. The target's health was observed before planning: an unhealthy target is refused
    /// here, before anything changes.
    public static func plan(_ request: Request, spec: DeploymentSpec, renderer: ConfigRenderer, observed: Observed) throws -> Plan {
        let target = request.target
        let from = observed.live(spec)
        let title = "switch \(from.rawValue) → \(target.rawValue)"
        guard let proxy = observed.containers[spec.proxyContainerName], proxy.isRunning else {
            throw OrchestratorError.proxyNotRunning(container: spec.proxyContainerName)
        }
        // The certificate and key stay those installed: new ones are up's to check and install.
        let candidate = renderer.render(spec, tlsFingerprint: observed.tlsFingerprint)
        let route = Route(live: target)
        let moves = move(to: route, candidate: candidate,
                         verify: Step("verify", "check that fresh requests through the proxy reach \(target.rawValue)", .verify(target)),
                         proxy: proxy, observed: observed)
        let recorded = observed.state.map { $0.live == target && $0.canary == nil } ?? false
        if target == from, moves.isEmpty, recorded {
            return Plan(title: title, steps: [], nothingToDo: "\(target.rawValue) is already live; nothing to do")
        }
        var steps: [Step] = []
        if target == from {
            // A repair keeps traffic where it is: the live pool's health does not decide it.
        } else if request.force {
            steps.append(Step("force", "--force: not checking that \(target.rawValue) is healthy", .warn("--force: not checking that \(target.rawValue) is healthy")))
        } else {
            try requireHealthy(target, from: from, spec: spec, observed: observed)
        }
        steps += moves
        // A switch to the pool that is already live only repairs: not a switch in the history — unless
        // all that is left is to record a route an interrupted switch moved, which finishes that switch.
        let finishing = moves.isEmpty && observed.state.map { $0.live != target } ?? false
        let repair = target == from && !finishing
        let detail = moves.isEmpty
            ? "the route served \(target.rawValue) while state.json recorded \(observed.state?.live.rawValue ?? "nothing"); recorded it"
            : "the proxy's route or configuration was not what bgctl writes for \(target.rawValue) live; wrote them again"
        let draft = HistoryDraft(action: repair ? "repair" : "switch", from: observed.state?.live ?? from, to: target, reason: request.reason,
                                 result: "ok", detail: repair || finishing ? detail : nil)
        steps.append(Step("record", "record \(target.rawValue) as live in state.json and the history",
                          .record(Record(live: target, deployed: observed.state?.deployed, history: draft, isSwitch: !repair,
                                         previousSwitch: observed.state?.lastSwitch))))
        let recordedTitle = "switch \(observed.state?.live.rawValue ?? from.rawValue) → \(target.rawValue)"
        return Plan(title: repair ? "repair: \(target.rawValue) is live; the route and configuration are written again" : (finishing ? recordedTitle : title),
                    steps: steps)
    }

    /// The steps that make the proxy serve `route` from `candidate`, shared by switch, canary steps and
    /// up: the route when it differs, the configuration when it differs, then `verify`. Empty when both
    /// are as wanted. The route goes first: with a configuration that reads it, traffic moves at once;
    /// with one made before routes, the reload that follows is what starts reading it.
    static func move(to route: Route, candidate: RenderedConfig, verify: Step, proxy: ContainerInfo, observed: Observed) -> [Step] {
        var steps: [Step] = []
        if observed.route != .route(route) {
            steps.append(Step(TrafficStep.route.rawValue, "move traffic: nginx/route/current to \(route) (one rename; undone on any later failure)", .setRoute(route)))
        }
        if observed.liveFiles != candidate.files {
            // Behind the shared front another project's part may have changed since: always tested.
            steps += apply(candidate, what: "the configuration bgctl renders now", verify: verify, proxy: proxy, observed: observed,
                           alwaysTest: proxy.labels[Docker.roleLabel] == "front")
        } else if !steps.isEmpty {
            steps.append(verify)
        }
        return steps
    }

    /// The checked way to change the proxy's configuration: stage → `nginx -t` (unless this proxy
    /// already accepted these bytes) → install → reload → `verify`.
    /// `alwaysTest`: behind the shared front, where other projects' parts change what the whole set is.
    static func apply(_ candidate: RenderedConfig, what: String, verify: Step, proxy: ContainerInfo, observed: Observed,
                      alwaysTest: Bool = false) -> [Step] {
        let accepted = !alwaysTest && (observed.tested?.accepted(candidate, by: proxy) ?? false)
        var steps = [Step("stage", "write \(what) to nginx/next/", .stageConfig(candidate))]
        if !accepted {
            steps.append(Step("nginx-test", "nginx -t on it inside the proxy", .testConfig))
        }
        steps += [
            Step(TrafficStep.install.rawValue, "move it over the live files (undone on any later failure)", .installConfig(candidate, proxy: proxy)),
            Step("reload", "reload nginx gracefully and wait until no worker of the configuration before accepts connections", .reload(proxy: proxy)),
            verify,
        ]
        if !accepted {
            steps.append(Step("remember-tested", "remember that this proxy accepted these bytes", .rememberTested(candidate, proxy: proxy)))
        }
        return steps
    }

    static func requireHealthy(_ target: Pool, from: Pool, spec: DeploymentSpec, observed: Observed) throws {
        let name = spec.containerName(target)
        guard let info = observed.containers[name] else {
            throw OrchestratorError.unhealthy(what: "\(target.rawValue) (\(name))", detail: "the container does not exist; run bgctl up")
        }
        guard info.isHealthy else {
            throw OrchestratorError.unhealthy(what: "\(target.rawValue) (\(name))",
                                              detail: "container is \(info.state)\(info.health.map { ", health \($0)" } ?? ""); refusing to switch (traffic stays on \(from.rawValue))")
        }
        if let failure = observed.probeFailures[target] {
            throw OrchestratorError.unhealthy(what: "\(target.rawValue) (\(name))", detail: "\(failure); refusing to switch (traffic stays on \(from.rawValue))")
        }
    }
}
