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
        /// A signal stopped it at a safe point: before the switch the live pool was never touched;
        /// after it, traffic went back to the previous pool.
        case aborted
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
    /// A canary deploy's plan (nil: blue-green) and the steps it analysed, in order.
    public var canary: CanaryPlan?
    public var steps: [CanaryStepRecord] = []
}

/// The operations: each takes the lock (not for a dry run), finishes or undoes an interrupted
/// operation first, observes, plans, and then either hands the plan to the dry run or executes it
/// under a journal. One code path for both.
extension Stack {
    /// Brings the stack to the spec (see `UpPlanner`).
    public func up(lockWait: Double) throws -> UpSummary {
        let started = ports.clock.monotonic()
        try ensureEngine()
        let lock = try self.lock("up", wait: lockWait)
        defer { lock?.release() }
        // Behind the shared front, changes to it go one project at a time (traffic never waits).
        let frontLock = try self.frontLock(wait: lockWait)
        defer { frontLock?.release() }
        try recoverInterrupted(convergent: true)
        let observed = try observe([.network, .files], probe: Pool.allCases)
        rotateProxyLog(proxy: observed.containers[spec.proxyContainerName])
        let registry = front == nil ? nil : try frontRegistry()
        let plan = try UpPlanner.plan(.init(pull: pull, specFile: specFile, tls: tls, front: registry), spec: spec, paths: paths,
                                      renderer: renderer, observed: observed)
        try journaled(entry(.up, title: "up", to: observed.live(spec)), phase: .up) { journal in
            try execute(plan, started: started, journal: journal)
        }
        return UpSummary(live: observed.live(spec), plan: plan)
    }

    /// Makes `request.target` the live pool with a checked reload (see `SwitchPlanner`).
    public func switchTo(_ request: SwitchPlanner.Request, lockWait: Double) throws -> SwitchOutcome {
        let lock = try self.lock("switch \(request.target.rawValue)", wait: lockWait)
        defer { lock?.release() }
        try recoverInterrupted()
        let outcome = try switchLocked(request, operation: .switch, parent: nil, cancellable: true)
        if !outcome.alreadyLive { try runHook(.postSwitch, HookContext(from: outcome.from, to: outcome.to, verdict: "ok")) }
        return outcome
    }

    /// A switch under a lock the caller holds; `parent`: the journal of the operation it belongs to.
    func switchLocked(_ request: SwitchPlanner.Request, operation: OperationKind, parent: JournalWriter?, cancellable: Bool) throws -> SwitchOutcome {
        let started = ports.clock.monotonic()
        // The inspect doubles as the engine check; the target's probe runs at the same time. Only what
        // a switch reads is inspected: every millisecond here is one before traffic moves.
        let observed = try observe([], probe: request.force ? [] : [request.target],
                                   containers: [spec.containerName(request.target), spec.proxyContainerName])
        let from = observed.live(spec)
        let plan = try SwitchPlanner.plan(request, spec: spec, renderer: renderer, observed: observed)
        let run = { (journal: JournalWriter?) throws -> PlanRun? in
            try self.execute(plan, started: started, journal: journal, cancellable: cancellable)
        }
        let ran: PlanRun?
        if let parent {
            ran = try run(parent)
        } else {
            ran = try journaled(entry(operation, title: plan.title, from: from, to: request.target), phase: .switch, run)
        }
        let total = ports.clock.monotonic() - started
        // Off the path to the reload: the log is rotated once traffic has moved.
        rotateProxyLog(proxy: observed.containers[spec.proxyContainerName])
        return SwitchOutcome(from: from, to: request.target, plan: plan, timings: ran?.timings ?? [], total: total)
    }

    /// Switches back to the pool that was live before the current one, from the history.
    public func rollback(reason: String?, force: Bool, lockWait: Double) throws -> SwitchOutcome {
        let lock = try self.lock("rollback", wait: lockWait)
        defer { lock?.release() }
        try recoverInterrupted()
        let observed = try observe([.history])
        let previous = try Self.previousLive(observed)
        let outcome = try switchLocked(.init(target: previous, reason: "rollback" + (reason.map { ": \($0)" } ?? ""), force: force),
                                       operation: .rollback, parent: nil, cancellable: true)
        if !outcome.alreadyLive { try runHook(.postRollback, HookContext(from: outcome.from, to: outcome.to, verdict: "ok")) }
        return outcome
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
        let frontLock = try self.frontLock(wait: lockWait)
        defer { frontLock?.release() }
        try recoverInterrupted()
        let observed = try observe([.network, .files])
        let registry = front == nil ? nil : try FrontRegistry.load(front!)
        let plan = try DownPlanner.plan(purge: purge, spec: spec, paths: paths, observed: observed, front: registry)
        // --purge deletes the journal's folder with the rest: it has nothing to journal into.
        try journaled(purge ? nil : entry(.down, title: plan.title), phase: .down) { journal in
            try execute(plan, started: started, journal: journal)
        }
        return plan
    }

    /// Ships an image to the idle pool and makes it live only if it proves healthy: the staging plan
    /// (see `DeployPlanner`), the switch, the analysis, and a switch back to the previous pool (still
    /// running and warm) when the analysis fails or a signal asks to stop. Failures and signals before
    /// the switch leave the live pool untouched.
    public func deploy(_ request: DeployRequest, lockWait: Double) throws -> DeployOutcome {
        let started = ports.clock.monotonic()
        try ensureEngine()
        let lock = try self.lock("deploy \(request.image)", wait: lockWait)
        defer { lock?.release() }
        try recoverInterrupted()
        let observed = try observe([])
        rotateProxyLog(proxy: observed.containers[spec.proxyContainerName])
        let staging = try DeployPlanner.plan(request, spec: spec, pull: pull, observed: observed, written: writtenSpec)
        let seconds = request.analyze ?? spec.deploy.analyze.seconds
        let canary = CanaryPlanner.plan(request, spec: spec, target: staging.target)
        let context = HookContext(release: request.releaseLabel, image: request.image, from: staging.live, to: staging.target)
        // Before anything changes: a pre_deploy hook that fails stops the deploy here.
        try runHook(.preDeploy, context)
        if let dryRun {
            dryRun(staging.plan)
            if let canary {
                dryRun(try CanaryPlanner.expected(canary, staging: staging, renderer: renderer, observed: observed,
                                                  reason: "deploy \(request.releaseLabel): canary passed"))
            } else if !request.noSwitch {
                dryRun(try DeployPlanner.expectedSwitch(staging, renderer: renderer, observed: observed, analyse: seconds,
                                                        reason: "deploy \(request.releaseLabel)"))
            }
            var outcome = DeployRun.outcome(request, staging, .planned)
            outcome.canary = canary
            try runHook(.postDeploy, context)
            return outcome
        }
        report(.step("deploying \(request.image) (release \(request.releaseLabel)) to the idle pool \(staging.target.rawValue); \(staging.live.rawValue) stays live"
                     + (canary.map { "; then canary \($0.summary)" } ?? "")))
        var journalEntry = entry(.deploy, title: staging.plan.title, from: staging.live, to: staging.target)
        journalEntry.image = request.image
        journalEntry.release = request.releaseLabel
        let outcome: DeployOutcome
        do {
            outcome = try journaled(journalEntry, phase: .stage) { journal in
                var run = DeployRun(stack: self, request: request, staging: staging, seconds: seconds, started: started, journal: journal!)
                run.canary = canary
                return try run.run()
            }
        } catch {
            var failed = context
            failed.verdict = "failed"
            try? runHook(.postDeploy, failed)
            throw error
        }
        var done = context
        done.verdict = outcome.result.rawValue
        try runHook(.postDeploy, done)
        return outcome
    }

    /// Applies the configuration for `live` as the recorded releases render it, when the proxy's differs
    /// (a release staged on the idle pool names itself in the log format); no reload when it matches.
    func resync(_ live: Pool, journal: JournalWriter) throws {
        journal.phase = .resync
        _ = try switchLocked(.init(target: live, reason: "configuration for the recorded releases"), operation: .deploy,
                             parent: journal, cancellable: false)
    }

    /// Finishes or undoes the operation an earlier bgctl left in the journal when it died (see
    /// `recoverInterrupted`); takes the lock. Nil when nothing was interrupted.
    public func recover(lockWait: Double) throws -> Recovery? {
        let lock = try self.lock("recover", wait: lockWait)
        defer { lock?.release() }
        return try recoverInterrupted()
    }

    /// Hands the plan to the dry run, or executes it. Nil for a dry run or an empty plan.
    @discardableResult
    func execute(_ plan: Plan, started: Double, journal: JournalWriter? = nil, cancellable: Bool = true) throws -> PlanRun? {
        if let dryRun {
            dryRun(plan)
            return nil
        }
        guard !plan.isEmpty else { return nil }
        return try Executor(stack: self, started: started, journal: journal, cancellable: cancellable).run(plan)
    }

    func entry(_ operation: OperationKind, title: String, from: Pool? = nil, to: Pool? = nil) -> JournalEntry {
        var entry = JournalEntry(operation: operation.rawValue, title: title, pid: getpid(), who: who, started: ports.clock.timestamp(),
                                 from: from, to: to)
        entry.moved = false
        return entry
    }

    /// Runs `body` with a journal for `entry` (none for a dry run or a nil entry). The journal goes
    /// when the operation ends in a state somebody chose — done, failed cleanly, or stopped at a safe
    /// point — and stays when a restore failed, so the next command recovers.
    @discardableResult
    func journaled<T>(_ entry: JournalEntry?, phase: JournalPhase, _ body: (JournalWriter?) throws -> T) throws -> T {
        guard dryRun == nil, let entry else { return try body(nil) }
        let writer = try JournalWriter(journal: journal, entry: entry, phase: phase)
        do {
            let result = try body(writer)
            writer.finish()
            return result
        } catch OrchestratorError.switchFailed(let step, let detail, restored: false) {
            throw OrchestratorError.switchFailed(step: step, detail: detail, restored: false)
        } catch {
            writer.finish()
            throw error
        }
    }
}
