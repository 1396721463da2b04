import NginxConfigGen

/// A canary deploy's course, decided before it starts: the steps of traffic the new release gets
/// beside the live pool, how long each is analysed, then the promotion.
public struct CanaryPlan: Sendable, Equatable {
    /// Percent of requests at each step, strictly increasing (`CanarySteps`).
    public var steps: [Int]
    /// Seconds each step is analysed (before any extension).
    public var seconds: Double
    public var sticky: Bool
    /// The pool running the new release; the other one (live) is the baseline.
    public var pool: Pool

    public var baseline: Pool { pool.other }

    public func routing(_ percent: Int) -> CanaryRouting { CanaryRouting(pool: pool, percent: percent, sticky: sticky) }

    /// "5% → 25% → 50% → promote, 60 s each".
    public var summary: String {
        (steps.map { "\($0)%" } + ["promote"]).joined(separator: " → ") + ", \(Int(seconds)) s each" + (sticky ? ", sticky" : "")
    }
}

/// What a canary does to the proxy, decided from what is observed. Pure: no Docker, no files, no clock.
public enum CanaryPlanner {
    /// The canary a deploy runs (see `DeployRequest.canarySteps`); nil for a blue-green deploy.
    public static func plan(_ request: DeployRequest, spec: DeploymentSpec, target: Pool) -> CanaryPlan? {
        guard let steps = request.canarySteps(spec) else { return nil }
        return CanaryPlan(steps: steps, seconds: request.step ?? spec.deploy.step.seconds,
                          sticky: request.sticky ?? (spec.deploy.sticky == .cookie), pool: target)
    }

    /// Moves the proxy to `routing` beside `live`, or with nil to `live` alone — the canary's weight 0,
    /// as before the deploy: the route (one rename, no reload; see `SwitchPlanner.move`) → verify →
    /// record the weights in state.json. Only the record when the route is already in force and only
    /// state.json differs; nothing when both match.
    public static func route(_ routing: CanaryRouting?, live: Pool, spec: DeploymentSpec, renderer: ConfigRenderer,
                             observed: Observed) throws -> Plan {
        guard let proxy = observed.containers[spec.proxyContainerName], proxy.isRunning else {
            throw OrchestratorError.proxyNotRunning(container: spec.proxyContainerName)
        }
        let route = Route(live: live, canary: routing)
        let routing = route.canary
        let title = routing.map { "canary: \($0.description)" } ?? "canary off: \(live.rawValue) takes every request"
        // The certificate and key stay those installed, as in a switch.
        let candidate = renderer.render(spec, tlsFingerprint: observed.tlsFingerprint)
        let pools = routing.map { [live, $0.pool] } ?? [live]
        let verify = Step("verify", "check that fresh requests through the proxy are answered by \(pools.map(\.rawValue).joined(separator: " or "))",
                          routing == nil ? .verify(live) : .verifyPools(pools))
        var steps = SwitchPlanner.move(to: route, candidate: candidate, verify: verify, proxy: proxy, observed: observed)
        let state = observed.state
        if !steps.isEmpty || state?.live != live || state?.canary != routing {
            let weights = routing.map { "\($0.weights.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)%" }.joined(separator: ", "))" }
            steps.append(Step("record", weights.map { "record the weights (\($0)) in state.json" } ?? "record \(live.rawValue) alone in state.json",
                              .record(Record(live: live, deployed: state?.deployed, history: nil, previousSwitch: state?.lastSwitch, canary: routing))))
        }
        return Plan(title: title, steps: steps, nothingToDo: steps.isEmpty ? "the proxy already routes that way" : nil)
    }

    /// One step's analysis.
    static func analysis(_ routing: CanaryRouting, seconds: Double, spec: DeploymentSpec) -> CanaryAnalysis {
        let extend = spec.deploy.extendLimit.seconds > seconds ? "; too few requests to judge: extended up to \(spec.deploy.extendLimit), then fails" : "; too few requests to judge fails"
        let step = Step("analyse", "compare \(routing.pool.rawValue) with \(routing.baseline.rawValue) in the proxy's log for \(Int(seconds)) s (fails at once past a deploy.canary_* limit\(extend)); the step's figures go to the history",
                        .analyseCanary(routing, seconds: seconds))
        return CanaryAnalysis(routing: routing, seconds: seconds, step: step)
    }

    /// What a dry run shows after the staging: each step as its own group (the weights, planned as
    /// if the previous step had been applied, then the analysis), then the promotion, a switch.
    public static func expected(_ canary: CanaryPlan, staging: DeployPlanner.Staging, renderer: ConfigRenderer,
                                observed: Observed, reason: String?) throws -> Plan {
        var after = observed
        var groups: [Step] = []
        for percent in canary.steps {
            let routing = canary.routing(percent)
            let route = try self.route(routing, live: staging.live, spec: staging.spec, renderer: renderer, observed: after)
            groups.append(Step("canary-\(percent)", "send \(percent)% of requests to \(canary.pool.rawValue), \(100 - percent)% to \(canary.baseline.rawValue); analyse",
                               .sequence(route.steps + [analysis(routing, seconds: canary.seconds, spec: staging.spec).step])))
            after.liveFiles = renderer.render(staging.spec, tlsFingerprint: observed.tlsFingerprint).files
            after.route = .route(Route(live: staging.live, canary: routing))
            after.state?.weights = routing.weights
            after.state?.sticky = routing.sticky ? true : nil
        }
        after.servedBy = staging.live
        let promotion = try SwitchPlanner.plan(.init(target: canary.pool, reason: reason, force: true), spec: staging.spec,
                                               renderer: renderer, observed: after)
        groups.append(Step("promote", "every request to \(canary.pool.rawValue): the switch, \(canary.baseline.rawValue) stays as backup",
                           .sequence(promotion.steps.filter { $0.name != "force" })))
        return Plan(title: "then canary \(canary.summary)", steps: groups)
    }
}
