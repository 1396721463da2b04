import NginxConfigGen

/// One deploy after its plan was made, phase by phase: stage the release on the idle pool, switch,
/// analyse, and promote or switch back — or, for a canary, move traffic in steps (see `runCanary`).
/// Each phase journals under its own name; a signal at a safe point ends the deploy with the verdict
/// `aborted` and the previous pool live.
struct DeployRun {
    let stack: Stack
    let request: DeployRequest
    let staging: DeployPlanner.Staging
    let seconds: Double
    let started: Double
    let journal: JournalWriter
    /// Set for a canary deploy.
    var canary: CanaryPlan?

    /// The stack as it runs once the release is recorded on the target pool.
    var next: Stack {
        var next = stack
        next.spec = staging.spec
        return next
    }

    var ports: Ports { stack.ports }

    static func outcome(_ request: DeployRequest, _ staging: DeployPlanner.Staging, _ result: DeployOutcome.Result) -> DeployOutcome {
        DeployOutcome(result: result, target: staging.target, previous: staging.live, image: request.image,
                      release: request.releaseLabel, reason: "", figures: nil, total: 0, analysed: 0)
    }

    func run() throws -> DeployOutcome {
        if let stopped = try stage() { return stopped }
        if let stopped = try beforeSwitch() { return stopped }
        if request.noSwitch {
            try next.resync(staging.live, journal: journal)
            var outcome = Self.outcome(request, staging, .staged)
            outcome.reason = "staged on \(staging.target.rawValue): try it on http://127.0.0.1:\(staging.spec.pool(staging.target).previewPort); bgctl switch \(staging.target.rawValue) makes it live"
            outcome.total = ports.clock.monotonic() - started
            return outcome
        }
        if let canary { return try runCanary(canary) }
        if let stopped = try switchOver() { return stopped }
        return try analyseAndDecide()
    }

    /// The staging plan; an outcome when a signal stopped it (the live pool was never touched).
    func stage() throws -> DeployOutcome? {
        do {
            try Executor(stack: next, started: started, journal: journal).run(staging.plan)
            return nil
        } catch OrchestratorError.unhealthy(_, let detail) {
            throw OrchestratorError.unhealthy(what: "the new release on \(staging.target.rawValue)",
                                              detail: "\(detail)\nNot switched: \(staging.live.rawValue) is still live and untouched.")
        } catch OrchestratorError.cancelled(let step) {
            // The configuration follows what state.json records: the new release only once it was recorded.
            try (releaseRecorded ? next : stack).resync(staging.live, journal: journal)
            return try verdict(.aborted, "stopped by a signal before \(step); \(staging.live.rawValue) was never touched", figures: nil)
        }
    }

    /// deploy.before_switch inside the new release; an outcome when a command failed or a signal stopped
    /// it: nothing was switched, and the configuration is put back to what state.json records.
    func beforeSwitch() throws -> DeployOutcome? {
        guard let plan = DeployPlanner.beforeSwitch(staging) else { return nil }
        journal.phase = .beforeSwitch
        let untouched = "not switched: \(staging.live.rawValue) is still live and untouched"
        do {
            try Executor(stack: next, started: started, journal: journal).run(plan)
            return nil
        } catch OrchestratorError.beforeSwitchFailed(let command, let detail, let tail) {
            try next.resync(staging.live, journal: journal)
            return try verdict(.beforeSwitchFailed, "before_switch \(command) \(detail); \(untouched)", figures: nil, tail: tail)
        } catch OrchestratorError.cancelled(let step) {
            try next.resync(staging.live, journal: journal)
            return try verdict(.aborted, "stopped by a signal at \(step); \(untouched)", figures: nil)
        }
    }

    /// state.json names the staged release on the target pool.
    private var releaseRecorded: Bool {
        let target = staging.spec.pool(staging.target)
        guard let recorded = (try? stack.store.load())?.deployed?[staging.target.rawValue] else { return false }
        return recorded.image == request.image && recorded.release == request.releaseLabel && recorded.env == target.env
    }

    /// The switch to the new release; an outcome when a signal stopped it before its install.
    private func switchOver() throws -> DeployOutcome? {
        journal.phase = .switch
        do {
            _ = try next.switchLocked(.init(target: staging.target, reason: "deploy \(request.releaseLabel)"), operation: .deploy,
                                      parent: journal, cancellable: true)
            return nil
        } catch OrchestratorError.cancelled(let step) {
            try next.resync(staging.live, journal: journal)
            return try verdict(.aborted, "stopped by a signal before the switch's \(step); \(staging.live.rawValue) stays live", figures: nil)
        }
    }

    /// Reads the log from the switch on; promotes, or switches back to the previous pool (still warm).
    private func analyseAndDecide() throws -> DeployOutcome {
        let switched = ports.clock.monotonic()
        journal.phase = .analyse
        // The analysis reads the signal itself: it ends with the verdict "aborted" and a switch back.
        let (decision, figures) = try Executor(stack: next, started: started, journal: journal, cancellable: false)
            .judge(DeployPlanner.analysis(seconds, live: staging.live), log: ports.accessLog(stack.paths.accessLog))
        let analysed = ports.clock.monotonic() - switched
        let result: DeployOutcome.Result, reason: String
        switch decision {
        case .promote(let why):
            return try verdict(.promoted, why, figures: figures, analysed: analysed)
        case .rollback(let why):
            (result, reason) = (.rolledBack, why)
        case .aborted(let why):
            (result, reason) = (.aborted, why)
        }
        stack.report(.warning("rolling back: \(reason)"))
        journal.phase = .rollback
        do {
            // A second signal does not cut the rollback short.
            _ = try next.switchLocked(.init(target: staging.live, reason: "rollback of \(request.releaseLabel): \(reason)"),
                                      operation: .deploy, parent: journal, cancellable: false)
        } catch {
            journal.keep = true
            return try verdict(.rollbackFailed, "\(reason); the rollback to \(staging.live.rawValue) failed too: \(Executor.describe(error))",
                               figures: figures, analysed: analysed)
        }
        return try verdict(result, reason, figures: figures, analysed: analysed)
    }

    /// Records the verdict in the history (a signal cannot stop this) and returns the outcome.
    /// `tail`: the last lines of a command that failed, kept in the history under the reason.
    func verdict(_ result: DeployOutcome.Result, _ reason: String, figures: AnalysisFigures?, analysed: Double = 0,
                 steps: [CanaryStepRecord]? = nil, tail: [String] = []) throws -> DeployOutcome {
        var outcome = Self.outcome(request, staging, result)
        outcome.reason = reason
        outcome.figures = figures
        outcome.analysed = analysed
        outcome.total = ports.clock.monotonic() - started
        outcome.canary = canary
        outcome.steps = steps ?? []
        let draft = HistoryDraft(action: "deploy", from: staging.live, to: staging.target, reason: request.reason ?? reason,
                                 result: result.rawValue, detail: ([reason] + tail.suffix(HookProcess.keptLines).map { String($0.prefix(300)) }).joined(separator: "\n"),
                                 image: request.image, release: request.releaseLabel,
                                 figures: figures?.dictionary, steps: steps, env: request.env.isEmpty ? nil : request.env.keys.sorted())
        // A promoted release's own flags, for `rollback --to` (values in the 0600 state, names in the history).
        let flags = result == .promoted && Syntax.isReleaseValue(request.releaseLabel) ? ReleaseFlags(release: request.releaseLabel, env: request.env) : nil
        journal.phase = .verdict
        try next.record(Record(live: nil, history: draft, flags: flags), started: started)
        return outcome
    }
}
