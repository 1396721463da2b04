import NginxConfigGen

public struct DeployRequest: Sendable, Equatable {
    public var image: String
    public var release: String?
    public var env: [String: String] = [:]
    /// Seconds of analysis after the switch; nil takes deploy.analyze.
    public var analyze: Double?
    public var noSwitch = false
    public var reason: String?
    /// The canary's steps in percent: nil takes deploy.canary, [] is a blue-green deploy (`--canary none`).
    public var canary: [Int]?
    /// Seconds each canary step is analysed; nil takes deploy.step.
    public var step: Double?
    /// Sticky canary; nil takes deploy.sticky.
    public var sticky: Bool?

    public init(image: String) {
        self.image = image
    }

    /// The canary steps this deploy runs: the request's, else deploy.canary; nil for a blue-green deploy
    /// (no steps, or `noSwitch`, which stops before any traffic moves). The one place that decides it.
    public func canarySteps(_ spec: DeploymentSpec) -> [Int]? {
        let steps = canary ?? spec.deploy.canary
        return steps.isEmpty || noSwitch ? nil : steps
    }

    /// `spec` with `pool` running this release: its image and label, and as settings the pool's env as
    /// `written` (the spec file's, not what a release deployed there before carried) plus `env`. A
    /// release's settings are its own: a rolled-back release's `--env` never reaches the next one.
    public func applied(to spec: DeploymentSpec, on pool: Pool, written: DeploymentSpec? = nil) -> DeploymentSpec {
        var next = spec
        var poolSpec = spec.pool(pool)
        poolSpec.image = image
        poolSpec.release = releaseLabel
        poolSpec.env = (written ?? spec).pool(pool).env.merging(env) { _, given in given }
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

/// What a deploy does before its switch: drain the idle pool, replace its container with the new
/// release, wait until healthy, smoke-check it, record the release. The live pool is never touched
/// by these steps; the switch, the analysis and a possible switch back follow (see `Stack.deploy`).
public enum DeployPlanner {
    public struct Staging: Sendable, Equatable {
        public var live: Pool
        public var target: Pool
        /// The spec with the target pool running the new release.
        public var spec: DeploymentSpec
        public var plan: Plan
    }

    /// deploy.before_switch as a plan of one step, run in the new release's container once it is
    /// healthy and before any traffic moves; nil when the spec has none.
    public static func beforeSwitch(_ staging: Staging) -> Plan? {
        let deploy = staging.spec.deploy
        guard !deploy.beforeSwitch.isEmpty else { return nil }
        let container = staging.spec.containerName(staging.target)
        let count = deploy.beforeSwitch.count
        return Plan(title: "before_switch in \(staging.target.rawValue)", steps: [
            Step("before-switch", "run \(count) command\(count == 1 ? "" : "s") in \(container) (at most \(deploy.beforeSwitchTimeout) in all); a failure stops the deploy before any traffic moves",
                 .beforeSwitch(container: container, commands: deploy.beforeSwitch, timeout: deploy.beforeSwitchTimeout.seconds)),
        ])
    }

    /// `written`: the spec as its file says, before deployed releases were applied (see `applied`).
    public static func plan(_ request: DeployRequest, spec: DeploymentSpec, pull: PullPolicy, observed: Observed,
                            written: DeploymentSpec? = nil) throws -> Staging {
        guard let state = observed.state else { throw OrchestratorError.notUp }
        guard observed.containers[spec.proxyContainerName]?.isRunning == true else {
            throw OrchestratorError.proxyNotRunning(container: spec.proxyContainerName)
        }
        let live = state.live
        let target = live.other
        let next = request.applied(to: spec, on: target, written: written)
        let desired = StackPlan.poolContainer(next, target, pull: pull)
        var steps: [Step] = []
        if observed.containers[desired.name] != nil {
            steps += [
                Step("drain", "drain \(target.rawValue): no request to it for \(spec.deploy.drainQuiet) and no old nginx workers (at most \(spec.deploy.drainTimeout))",
                     .drain(target)),
                Step("remove-\(target.rawValue)", "remove the old \(target.rawValue) container", .removeContainer(desired.name)),
            ]
        }
        steps.append(Step("start-\(target.rawValue)", "start \(target.rawValue) with \(request.image) (release \(request.releaseLabel))", .runContainer(desired)))
        steps.append(Step("wait-healthy", "wait until the new release on \(target.rawValue) is healthy", .waitHealthy(required: [target], optional: [])))
        if !spec.deploy.smoke.isEmpty {
            steps.append(Step("smoke", "smoke checks on 127.0.0.1:\(spec.pool(target).previewPort): \(spec.deploy.smoke.map { "GET \($0.path) → \($0.status)" }.joined(separator: ", "))",
                              .smokeChecks(target)))
        }
        var deployed = state.deployed ?? [:]
        deployed[target.rawValue] = DeployedRelease(image: request.image, release: request.releaseLabel, env: next.pool(target).env, at: "")
        let staged = request.noSwitch ? HistoryDraft(action: "deploy", from: live, to: target, reason: request.reason, result: "staged",
                                                     image: request.image, release: request.releaseLabel) : nil
        steps.append(Step("record-release", "record \(request.releaseLabel) as deployed on \(target.rawValue) (\(live.rawValue) stays live)",
                          .record(Record(live: live, deployed: deployed, history: staged, previousSwitch: state.lastSwitch))))
        let title = "deploy \(request.image) to \(target.rawValue)" + (request.noSwitch ? " (no switch)" : "")
        return Staging(live: live, target: target, spec: next, plan: Plan(title: title, steps: steps))
    }

    static func analysis(_ seconds: Double, live: Pool) -> ReleaseAnalysis {
        ReleaseAnalysis(seconds: seconds,
                        step: Step("analyse", "analyse the proxy's log for \(Int(seconds)) s; then promote, or switch back to \(live.rawValue) (still running)",
                                   .analyse(seconds: seconds)))
    }

    /// What a dry run shows after the staging: the switch as it would be planned once the new release
    /// is healthy, then the analysis.
    public static func expectedSwitch(_ staging: Staging, renderer: ConfigRenderer, observed: Observed, analyse seconds: Double,
                                      reason: String?) throws -> Plan {
        var after = observed
        after.servedBy = staging.live
        let switchPlan = try SwitchPlanner.plan(.init(target: staging.target, reason: reason, force: true), spec: staging.spec,
                                                renderer: renderer, observed: after)
        var steps = switchPlan.steps.filter { $0.name != "force" }
        steps.append(analysis(seconds, live: staging.live).step)
        return Plan(title: "then", steps: steps)
    }
}
