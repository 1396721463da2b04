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
    private func stage() throws -> DeployOutcome? {
        let executor = Executor(stack: next, started: started)
        executor.journal = journal
        do {
            try executor.run(staging.plan)
            return nil
        } catch OrchestratorError.unhealthy(_, let detail) {
            throw OrchestratorError.unhealthy(what: "the new release on \(staging.target.rawValue)",
                                              detail: "\(detail)\nNot switched: \(staging.live.rawValue) is still live and untouched.")
        } catch OrchestratorError.cancelled(let step) {
            // The configuration follows what state.json records: the new release only once it was recorded.
            let recorded = executor.timings.contains { $0.0 == "record-release" }
            try (recorded ? next : stack).resync(staging.live, journal: journal)
            return try verdict(.aborted, "stopped by a signal before \(step); \(staging.live.rawValue) was never touched", figures: nil)
        }
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
        let judge = Executor(stack: next, started: started)
        judge.analysisLog = ports.accessLog(stack.paths.accessLog)
        // The analysis reads the signal itself: it ends with the verdict "aborted" and a switch back.
        judge.cancellable = false
        journal.phase = .analyse
        judge.journal = journal
        try judge.run(DeployPlanner.analysis(seconds, live: staging.live))
        let (decision, figures) = judge.verdict ?? (.rollback("no analysis ran"), AnalysisFigures())
        let analysed = ports.clock.monotonic() - switched
        switch decision {
        case .promote(let reason):
            return try verdict(.promoted, reason, figures: figures, analysed: analysed)
        case .rollback(let reason):
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
            return try verdict(judge.aborted ? .aborted : .rolledBack, reason, figures: figures, analysed: analysed)
        case .extend:
            preconditionFailure("the analysis keeps going while its verdict is extend")
        }
    }

    /// Records the verdict in the history (a signal cannot stop this) and returns the outcome.
    func verdict(_ result: DeployOutcome.Result, _ reason: String, figures: AnalysisFigures?, analysed: Double = 0,
                 steps: [CanaryStepRecord]? = nil) throws -> DeployOutcome {
        var outcome = Self.outcome(request, staging, result)
        outcome.reason = reason
        outcome.figures = figures
        outcome.analysed = analysed
        outcome.total = ports.clock.monotonic() - started
        outcome.canary = canary
        outcome.steps = steps ?? []
        let draft = HistoryDraft(action: "deploy", from: staging.live, to: staging.target, reason: request.reason ?? reason,
                                 result: result.rawValue, detail: reason, image: request.image, release: request.releaseLabel,
                                 figures: figures?.dictionary, steps: steps)
        journal.phase = .verdict
        try next.record(Record(live: nil, history: draft), started: started)
        return outcome
    }
}
