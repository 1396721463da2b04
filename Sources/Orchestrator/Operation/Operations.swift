import Foundation
import NginxConfigGen

public struct UpSummary: Sendable {
    public var live: Pool
    public var plan: Plan
    public var changed: Bool { !plan.isEmpty && plan.nothingToDo == nil }
}

public struct SwitchOutcome: Sendable {
    public var from: Pool
    public var to: Pool
    public var plan: Plan
    /// Seconds per step that ran, in order.
    public var timings: [(String, Double)]
    public var total: Double
    public var alreadyLive: Bool { plan.isEmpty }
}

public struct DeployOutcome: Sendable {
    public enum Result: String, Sendable {
        case staged
        case promoted
        case rolledBack = "rolled_back"
        case rollbackFailed = "rollback_failed"
        /// A dry run: nothing was changed.
        case planned
    }

    public var result: Result
    public var target: Pool
    public var previous: Pool
    public var image: String
    public var release: String
    public var reason: String
    public var figures: AnalysisFigures?
    /// Seconds from the start of the deploy to its verdict, and from the switch to the verdict.
    public var total: Double
    public var analysed: Double
}

/// The operations: each takes the lock (not for a dry run), observes, plans, and then either hands
/// the plan to the dry run or executes it. One code path for both.
extension Stack {
    /// Brings the stack to the spec (see `UpPlanner`).
    public func up(lockWait: Double) throws -> UpSummary {
        let started = ports.clock.monotonic()
        try ensureEngine()
        let lock = try self.lock("up", wait: lockWait)
        defer { lock?.release() }
        let observed = try observe([.network, .files], probe: Pool.allCases)
        let plan = try UpPlanner.plan(.init(pull: pull, specFile: specFile), spec: spec, paths: paths, renderer: renderer, observed: observed)
        try execute(plan, started: started)
        return UpSummary(live: observed.live(spec), plan: plan)
    }

    /// Makes `request.target` the live pool with a checked reload (see `SwitchPlanner`).
    /// `locked`: the caller (deploy) holds the stack's lock.
    public func switchTo(_ request: SwitchPlanner.Request, lockWait: Double, locked: Bool = false) throws -> SwitchOutcome {
        let started = ports.clock.monotonic()
        let lock = locked ? nil : try self.lock("switch \(request.target.rawValue)", wait: lockWait)
        defer { lock?.release() }
        // The inspect doubles as the engine check; the target's probe runs at the same time.
        var observed = try observe([], probe: request.force ? [] : [request.target])
        if request.target == observed.live(spec) { observed.servedBy = servedPool() }
        let plan = try SwitchPlanner.plan(request, spec: spec, renderer: renderer, observed: observed)
        let executor = try execute(plan, started: started)
        return SwitchOutcome(from: observed.live(spec), to: request.target, plan: plan,
                             timings: executor?.timings ?? [], total: ports.clock.monotonic() - started)
    }

    /// Switches back to the pool that was live before the current one, from the history.
    public func rollback(reason: String?, force: Bool, lockWait: Double) throws -> SwitchOutcome {
        let lock = try self.lock("rollback", wait: lockWait)
        defer { lock?.release() }
        let observed = try observe([.history])
        let previous = try Self.previousLive(observed)
        return try switchTo(.init(target: previous, reason: "rollback" + (reason.map { ": \($0)" } ?? ""), force: force),
                            lockWait: 0, locked: true)
    }

    /// The pool that was live before the current one: the `from` of the last switch or promoted deploy to it.
    static func previousLive(_ observed: Observed) throws -> Pool {
        guard let state = observed.state else { throw OrchestratorError.notUp }
        let moves = observed.history.filter {
            ($0.action == "switch" && $0.result == "ok") || ($0.action == "deploy" && $0.result == "promoted")
        }
        guard let last = moves.last(where: { $0.to == state.live }), let previous = last.from, previous != state.live else {
            throw OrchestratorError.nothingToRollBack(live: state.live)
        }
        return previous
    }

    /// Removes bgctl's containers and network (see `DownPlanner`); returns the plan it carried out.
    public func down(purge: Bool, lockWait: Double) throws -> Plan {
        let started = ports.clock.monotonic()
        try ensureEngine()
        let lock = try self.lock("down", wait: lockWait)
        defer { lock?.release() }
        let observed = try observe([.network, .files])
        let plan = try DownPlanner.plan(purge: purge, spec: spec, paths: paths, observed: observed)
        try execute(plan, started: started)
        return plan
    }

    /// Ships an image to the idle pool and makes it live only if it proves healthy: the staging plan
    /// (see `DeployPlanner`), the switch, the analysis, and a switch back to the previous pool (still
    /// running and warm) when the analysis fails. Failures before the switch leave the live pool untouched.
    public func deploy(_ request: DeployRequest, lockWait: Double) throws -> DeployOutcome {
        let started = ports.clock.monotonic()
        try ensureEngine()
        let lock = try self.lock("deploy \(request.image)", wait: lockWait)
        defer { lock?.release() }
        let observed = try observe([])
        let staging = try DeployPlanner.plan(request, spec: spec, pull: pull, observed: observed)
        var next = self
        next.spec = staging.spec
        let seconds = request.analyze ?? spec.deploy.analyze.seconds
        var outcome = DeployOutcome(result: .planned, target: staging.target, previous: staging.live, image: request.image,
                                    release: request.releaseLabel, reason: "", figures: nil, total: 0, analysed: 0)
        if let dryRun {
            dryRun(staging.plan)
            if !request.noSwitch {
                dryRun(try DeployPlanner.expectedSwitch(staging, renderer: renderer, observed: observed, analyse: seconds,
                                                        reason: "deploy \(request.releaseLabel)"))
            }
            return outcome
        }
        report(.step("deploying \(request.image) (release \(request.releaseLabel)) to the idle pool \(staging.target.rawValue); \(staging.live.rawValue) stays live"))
        do {
            try Executor(stack: next, started: started).run(staging.plan)
        } catch OrchestratorError.unhealthy(_, let detail) {
            throw OrchestratorError.unhealthy(what: "the new release on \(staging.target.rawValue)",
                                              detail: "\(detail)\nNot switched: \(staging.live.rawValue) is still live and untouched.")
        }
        if request.noSwitch {
            outcome.result = .staged
            outcome.reason = "staged on \(staging.target.rawValue): try it on http://127.0.0.1:\(staging.spec.pool(staging.target).previewPort); bgctl switch \(staging.target.rawValue) makes it live"
            outcome.total = ports.clock.monotonic() - started
            return outcome
        }

        _ = try next.switchTo(.init(target: staging.target, reason: "deploy \(request.releaseLabel)"), lockWait: 0, locked: true)
        let switched = ports.clock.monotonic()
        let judge = Executor(stack: next, started: started)
        judge.analysisLog = ports.accessLog(paths.accessLog)
        try judge.run(DeployPlanner.analysis(seconds, live: staging.live))
        let (verdict, figures) = judge.verdict ?? (.rollback("no analysis ran"), AnalysisFigures())
        outcome.figures = figures
        outcome.analysed = ports.clock.monotonic() - switched
        switch verdict {
        case .promote(let reason):
            outcome.result = .promoted
            outcome.reason = reason
        case .rollback(let reason):
            outcome.reason = reason
            report(.warning("rolling back: \(reason)"))
            do {
                _ = try next.switchTo(.init(target: staging.live, reason: "rollback of \(request.releaseLabel): \(reason)"), lockWait: 0, locked: true)
                outcome.result = .rolledBack
            } catch {
                outcome.result = .rollbackFailed
                outcome.reason = "\(reason); the rollback to \(staging.live.rawValue) failed too: \(Executor.describe(error))"
            }
        case .extend:
            preconditionFailure("the analysis keeps going while its verdict is extend")
        }
        outcome.total = ports.clock.monotonic() - started
        let draft = HistoryDraft(action: "deploy", from: staging.live, to: staging.target, reason: request.reason ?? outcome.reason,
                                 result: outcome.result.rawValue, detail: outcome.reason, image: request.image,
                                 release: request.releaseLabel, figures: figures.dictionary)
        try Executor(stack: next, started: started).run(Step("record-verdict", "record the verdict in the history", .record(Record(live: nil, history: draft))))
        return outcome
    }

    /// Hands the plan to the dry run, or executes it. Nil for a dry run or an empty plan.
    @discardableResult
    func execute(_ plan: Plan, started: Double) throws -> Executor? {
        if let dryRun {
            dryRun(plan)
            return nil
        }
        guard !plan.isEmpty else { return nil }
        let executor = Executor(stack: self, started: started)
        try executor.run(plan)
        return executor
    }
}
