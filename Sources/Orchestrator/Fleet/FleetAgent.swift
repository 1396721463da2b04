import Foundation
import NginxConfigGen

/// One host's part of a fleet operation, run on that host by its agent (`bgctl agent serve`): it holds
/// the host's lock for the whole conversation, and takes switches and deploys apart into the phases the
/// coordinator sequences across hosts — stage (the new release healthy on the idle pool), prepare
/// (target healthy, configuration tested, nothing changed), flip (traffic moves, checked through the
/// proxy), record (state.json and the history), analyse (this host's log), verdict. The host's journal
/// records each step as any switch or deploy does. What the coordinator did not see through is undone
/// when the conversation ends early (`end`): a flip never recorded, a deploy without its verdict — so a
/// coordinator that dies leaves every host where the fleet was, never one host moved alone.
public final class FleetAgent: @unchecked Sendable {
    private(set) var stack: Stack
    private var lock: StackLock?
    private var plan: Plan?
    private var journal: JournalWriter?
    private var executor: Executor?
    private var target: Pool?
    private var from: Pool?
    private(set) var flipped = false
    private(set) var recorded = false
    private var ended = false
    /// The deploy this conversation carries, from its staging to its verdict.
    private var deploy: DeployRun?
    /// The deploy's switch to the new release was recorded here (a later switch is its rollback).
    private var deploySwitched = false
    /// A canary deploy's plan, and this host's steps so far.
    private var canary: CanaryPlan?
    private var steps: [CanaryStepRecord] = []

    public init(stack: Stack) { self.stack = stack }

    /// Takes the host's lock (waiting up to `wait`), and finishes or undoes what an earlier bgctl left.
    public func start(wait: Double) throws {
        lock = try stack.lock("fleet operation", wait: wait)
        try stack.recoverInterrupted()
    }

    // MARK: - switch

    /// The pool live here now, and whether a switch to `target` changes anything; nothing is changed.
    public func prepare(target: Pool, force: Bool) throws -> (live: Pool, changes: Bool) {
        try stack.ensureEngine()
        let observed = try stack.observe([], probe: force ? [] : [target],
                                         containers: [stack.spec.containerName(target), stack.spec.proxyContainerName])
        let reason = deploy.map { deploySwitched ? "rollback of \($0.request.releaseLabel)" : "deploy \($0.request.releaseLabel)" } ?? "fleet switch"
        let plan = try SwitchPlanner.plan(.init(target: target, reason: reason, force: force), spec: stack.spec,
                                          renderer: stack.renderer, observed: observed)
        // A configuration to install is tested now, before any host moves.
        if plan.steps.contains(where: { $0.action == .testConfig }) {
            let staged = plan.steps.filter { if case .stageConfig = $0.action { return true }; return $0.action == .testConfig }
            try Executor(stack: stack, started: stack.ports.clock.monotonic(), cancellable: false).run(Plan(title: "test", steps: staged))
        }
        self.plan = plan
        self.target = target
        from = observed.live(stack.spec)
        flipped = false
        recorded = false
        // While the hosts flip, either pool is the fleet's: the health path stays 200 through the move.
        if !plan.steps.isEmpty { agree([from!, target]) }
        return (from!, !plan.steps.isEmpty)
    }

    /// Moves this host's traffic to the prepared target and checks it through the proxy; a failure
    /// puts the host back as it was (the executor's restore) before it is thrown.
    public func flip() throws -> Double {
        guard let plan, let target, let from else { throw OrchestratorError.recoveryFailed(operation: "fleet flip", detail: "not prepared") }
        let started = stack.ports.clock.monotonic()
        guard !plan.steps.isEmpty else { return 0 }
        let journal: JournalWriter
        if let deploy {
            // A deploy's switch and its rollback are steps of the deploy: a crash here recovers as a deploy.
            journal = deploy.journal
            journal.phase = deploySwitched ? .rollback : .switch
        } else {
            journal = try JournalWriter(journal: stack.journal, entry: stack.entry(.switch, title: "fleet switch \(from.rawValue) → \(target.rawValue)",
                                                                                   from: from, to: target), phase: .switch)
        }
        self.journal = journal
        let executor = Executor(stack: stack, started: started, journal: journal, cancellable: false)
        self.executor = executor
        do {
            for step in plan.steps where step.name != "record" { try executor.run(step) }
        } catch {
            if deploy == nil { journal.finish() }
            self.journal = nil
            throw error
        }
        flipped = true
        return stack.ports.clock.monotonic() - started
    }

    /// Records the switch here (state.json, the history); the services follow.
    public func record() throws {
        guard let plan, let target else { return }
        if let executor {
            for step in plan.steps where step.name == "record" { try executor.run(step) }
        }
        recorded = true
        agree([target])
        if deploy != nil, flipped { deploySwitched = true }
        stack.followServices(live: target, journal: journal)
        if deploy == nil { journal?.finish() }
        journal = nil
    }

    /// Puts a flip that was not recorded back to the pool live before (checked through the proxy).
    public func unflip() throws {
        guard flipped, !recorded, let from else { return }
        _ = try stack.switchLocked(.init(target: from, reason: "fleet switch undone", force: true), operation: deploy == nil ? .switch : .deploy,
                                   parent: journal, cancellable: false)
        agree([from])
        flipped = false
        if deploy == nil { journal?.finish() }
        journal = nil
    }

    // MARK: - deploy

    /// Stages `request` on this host's idle pool (the new release healthy there, recorded; the live pool
    /// untouched) without its before_switch commands, which the fleet runs once (`beforeSwitch`). The
    /// deploy's journal stays open until its verdict.
    public func stage(_ request: DeployRequest, canarySteps: [Int]? = nil) throws -> (live: Pool, target: Pool) {
        guard deploy == nil else { throw OrchestratorError.recoveryFailed(operation: "fleet stage", detail: "this session already carries a deploy") }
        let started = stack.ports.clock.monotonic()
        try stack.ensureEngine()
        let observed = try stack.observe([])
        stack.rotateProxyLog(proxy: observed.containers[stack.spec.proxyContainerName])
        let staging = try DeployPlanner.plan(request, spec: stack.spec, pull: stack.pull, observed: observed, written: stack.writtenSpec)
        var entry = stack.entry(.deploy, title: "fleet " + staging.plan.title, from: staging.live, to: staging.target)
        entry.image = request.image
        entry.release = request.releaseLabel
        let journal = try JournalWriter(journal: stack.journal, entry: entry, phase: .stage)
        let run = DeployRun(stack: stack, request: request, staging: staging, seconds: request.analyze ?? stack.spec.deploy.analyze.seconds,
                            started: started, journal: journal)
        do {
            _ = try run.stage()
            // Until the fleet switches, the configuration follows what state.json records.
            try run.next.resync(staging.live, journal: journal)
        } catch {
            journal.finish()
            throw error
        }
        deploy = run
        stack = run.next
        if let canarySteps, !canarySteps.isEmpty {
            var stepped = request
            stepped.noSwitch = false
            stepped.canary = canarySteps
            canary = CanaryPlanner.plan(stepped, spec: stack.spec, target: staging.target)
        }
        return (staging.live, staging.target)
    }

    /// deploy.before_switch in the staged release's container (the fleet runs them on one host).
    public func beforeSwitch() throws {
        guard let deploy else { throw OrchestratorError.recoveryFailed(operation: "before_switch", detail: "nothing staged") }
        guard let plan = DeployPlanner.beforeSwitch(deploy.staging) else { return }
        deploy.journal.phase = .beforeSwitch
        do {
            try Executor(stack: stack, started: deploy.started, journal: deploy.journal, cancellable: false).run(plan)
        } catch {
            try? stack.resync(deploy.staging.live, journal: deploy.journal)
            throw error
        }
    }

    /// Where a fleet deploy's analysis of this host's log stands: `running` (the window not over), `failed`
    /// (the figures fail the deploy policy already, with why), or `done` (the window is over: the fleet
    /// judges every host's figures together, so a host too quiet to judge alone does not decide).
    public enum AnalysisState: String, Sendable { case running, failed, done }

    private var analysis: (log: AccessLogReading, start: Double, seconds: Double, figures: AnalysisFigures)?

    /// Reads this host's log from the first call on, for at most `slice` seconds per call, until the
    /// window of `seconds` is over or the figures fail: in slices, so the coordinator can stop every
    /// host's analysis as soon as one host fails the release, or a signal asks it to.
    public func analyse(seconds: Double, slice: Double) throws -> (state: AnalysisState, why: String, figures: AnalysisFigures) {
        guard let deploy else { throw OrchestratorError.recoveryFailed(operation: "fleet analysis", detail: "nothing deployed") }
        let clock = stack.ports.clock
        if analysis == nil {
            deploy.journal.phase = .analyse
            try deploy.journal.starting(DeployPlanner.analysis(seconds, live: deploy.staging.live).step)
            analysis = (stack.ports.accessLog(stack.paths.accessLog), clock.monotonic(), seconds, AnalysisFigures())
        }
        let policy = DeployPolicy(spec: stack.spec)
        let sliceEnd = clock.monotonic() + max(0.25, slice)
        while true {
            guard var current = analysis else { break }
            if current.figures.seconds < current.seconds { clock.sleep(0.25) }
            var figures = current.log.read()
            figures.seconds = min(clock.monotonic() - current.start, max(current.seconds, current.figures.seconds))
            current.figures = figures
            analysis = current
            if case .fail(let why) = policy.judge(figures) { return (.failed, why, figures) }
            if figures.seconds >= current.seconds { return (.done, "", figures) }
            if clock.monotonic() >= sliceEnd { return (.running, "", figures) }
        }
        return (.done, "", AnalysisFigures())
    }

    /// Records the fleet's verdict here (the history, a promoted release's flags) and closes the deploy.
    public func verdict(_ result: DeployOutcome.Result, reason: String, figures: AnalysisFigures?, analysed: Double) throws {
        guard var deploy else { return }
        deploy.canary = canary
        _ = try deploy.verdict(result, reason, figures: figures, analysed: analysed, steps: canary == nil ? nil : steps)
        deploy.journal.finish()
        self.deploy = nil
        canary = nil
        steps = []
        deploySwitched = false
        analysis = nil
    }

    /// What this host's fleet health path accepts (see `Stack.agreeFleet`); a failure to write it is
    /// said, never fatal: the move it belongs to stands.
    func agree(_ pools: Set<Pool>) {
        do { try stack.agreeFleet(pools) } catch {
            stack.report(.warning("could not record the fleet's agreement (\(Executor.describe(error))); the fleet health path may answer as before"))
        }
    }

    /// After the fleet's up: `pool` is what the fleet agreed on.
    public func agreeOn(_ pool: Pool) { agree([pool]) }

    /// A canary step's weight on this host (0: the baseline alone), checked through the proxy and
    /// recorded in state.json, journaled as the deploy's step.
    public func weight(_ percent: Int) throws {
        guard let deploy, let canary else { throw OrchestratorError.recoveryFailed(operation: "canary weight", detail: "no canary staged") }
        guard percent == 0 || canary.steps.contains(percent) else {
            throw OrchestratorError.recoveryFailed(operation: "canary weight", detail: "\(percent)% is not one of the canary's steps")
        }
        deploy.journal.phase = percent == 0 ? .rollback : .canary(percent)
        try stack.route(percent == 0 ? nil : canary.routing(percent), live: canary.baseline, journal: deploy.journal, cancellable: false)
    }

    /// One canary step's analysis on this host (its window, the canary against the baseline), recorded
    /// in this host's history.
    public func analyseStep(_ percent: Int) throws -> (result: String, reason: String) {
        guard let deploy, let canary, canary.steps.contains(percent) else {
            throw OrchestratorError.recoveryFailed(operation: "canary analysis", detail: "no such step")
        }
        let verdict = try deploy.analyse(canary.routing(percent), canary: canary)
        steps.append(verdict.record)
        return (verdict.result.rawValue, verdict.reason)
    }

    // MARK: - reading

    /// The pool live here, and when the history last recorded traffic moving to it (ISO time; nil when never).
    public func whereNow() throws -> (live: Pool, since: String?) {
        let observed = try stack.observe([.history])
        guard let state = observed.state else { throw OrchestratorError.notUp }
        let moved = observed.history.last { entry in
            entry.to == state.live && ["switch", "rollback", "recover", "deploy"].contains(entry.action)
                && ["ok", "promoted"].contains(entry.result)
        }
        return (state.live, moved?.time)
    }

    /// The pool that was live before this one (as `bgctl rollback` picks it).
    public func previous() throws -> Pool {
        try Stack.previousLive(try stack.observe([.history]))
    }

    // MARK: - end

    /// The conversation ended: a flip never recorded is undone, a deploy without its verdict goes back
    /// to the pool live before it (verdict "aborted"), and the lock goes.
    public func end() {
        guard !ended else { return }
        ended = true
        if flipped && !recorded {
            do {
                try unflip()
            } catch {
                // Not known to serve what the fleet agreed on: out of the load balancer until recover.
                agree([])
                stack.report(.warning("could not undo the unrecorded flip: \(Executor.describe(error)); the journal stays for recover, and the fleet health path answers 503"))
            }
        } else if let from, plan != nil, !recorded {
            // Prepared, never flipped: the agreement goes back to the pool it serves.
            agree([from])
        }
        if let deploy {
            let back = deploy.staging.live
            do {
                // The fleet never judged it: back to the pool live before (still warm), as a deploy's recovery does;
                // a canary's weight to 0 first.
                if (try? stack.store.load())?.canary != nil {
                    try stack.route(nil, live: back, journal: deploy.journal, cancellable: false)
                }
                _ = try stack.switchLocked(.init(target: back, reason: "fleet deploy ended without a verdict", force: true), operation: .deploy,
                                           parent: deploy.journal, cancellable: false)
                agree([back])
                try verdict(.aborted, reason: "the fleet's coordinator went away before the verdict; \(back.rawValue) is live", figures: nil, analysed: 0)
            } catch {
                agree([])
                deploy.journal.keep = true
                stack.report(.warning("could not undo the unfinished deploy: \(Executor.describe(error)); the journal stays for recover"))
            }
        }
        journal?.finish()
        lock?.release()
        lock = nil
    }
}
