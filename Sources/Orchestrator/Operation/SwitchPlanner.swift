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

    /// Order: stage the candidate → `nginx -t` (unless this proxy already accepted these bytes) →
    /// install → reload → verify → record. The target's health was observed before planning: an
    /// unhealthy target is refused here, before anything changes.
    public static func plan(_ request: Request, spec: DeploymentSpec, renderer: ConfigRenderer, observed: Observed) throws -> Plan {
        let target = request.target
        let from = observed.live(spec)
        let title = "switch \(from.rawValue) → \(target.rawValue)"
        guard let proxy = observed.containers[spec.proxyContainerName], proxy.isRunning else {
            throw OrchestratorError.proxyNotRunning(container: spec.proxyContainerName)
        }
        // The certificate and key stay those installed: new ones are up's to check and install.
        let candidate = renderer.render(spec, live: target, tlsFingerprint: observed.tlsFingerprint)
        if target == from, observed.servedBy == target, observed.liveFiles == candidate.files {
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
        steps += apply(candidate, expecting: target, proxy: proxy, observed: observed)
        // A switch to the pool that is already live only repairs the proxy: not a switch in the history.
        let repair = target == from
        let draft = HistoryDraft(action: repair ? "repair" : "switch", from: from, to: target, reason: request.reason, result: "ok",
                                 detail: repair ? "the proxy did not serve \(target.rawValue) from the configuration bgctl renders now; applied it again" : nil)
        steps.append(Step("record", "record \(target.rawValue) as live in state.json and the history",
                          .record(Record(live: target, deployed: observed.state?.deployed, history: draft, isSwitch: !repair,
                                         previousSwitch: observed.state?.lastSwitch))))
        return Plan(title: repair ? "repair: \(target.rawValue) is live; the proxy's configuration is applied again" : title, steps: steps)
    }

    /// The checked way to change the proxy's configuration, shared by switch and up.
    static func apply(_ candidate: RenderedConfig, expecting target: Pool, proxy: ContainerInfo, observed: Observed) -> [Step] {
        apply(candidate, what: "\(target.rawValue) live",
              verify: Step("verify", "check that fresh requests through the proxy reach \(target.rawValue)", .verify(target)),
              proxy: proxy, observed: observed)
    }

    /// The same with the configuration described by `what` and checked by `verify` (a canary's weights).
    static func apply(_ candidate: RenderedConfig, what: String, verify: Step, proxy: ContainerInfo, observed: Observed) -> [Step] {
        let accepted = observed.tested?.accepted(candidate, by: proxy) ?? false
        var steps = [Step("stage", "write the configuration with \(what) to nginx/next/", .stageConfig(candidate))]
        if !accepted {
            steps.append(Step("nginx-test", "nginx -t on it inside the proxy", .testConfig))
        }
        steps += [
            Step("install", "move it over the live files (undone on any later failure)", .installConfig(candidate, proxy: proxy)),
            Step("reload", "reload nginx gracefully: SIGHUP to the proxy's master", .reload(proxy: proxy)),
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
