import NginxConfigGen

extension DeployRun {
    /// The canary after the staging: for each step, route its share of requests to the new release
    /// (a checked reload, journaled as `canary-<percent>`), compare it with the baseline (`CanaryPolicy`)
    /// and record the step; then promote with the ordinary switch. A failing step, a failed weight
    /// change or promotion, or a signal sets the canary's weight to 0 at once — the baseline alone, as
    /// before the deploy — and records the verdict (rolled_back or aborted) with every step's figures.
    func runCanary(_ canary: CanaryPlan) throws -> DeployOutcome {
        var records: [CanaryStepRecord] = []
        // The analysis time runs from here: the first weight change.
        let moved = ports.clock.monotonic()
        for (index, percent) in canary.steps.enumerated() {
            let routing = canary.routing(percent)
            journal.phase = .canary(percent)
            do {
                try next.route(routing, live: canary.baseline, journal: journal, cancellable: true)
            } catch OrchestratorError.cancelled(let step) {
                return try canaryOff(.aborted, "stopped by a signal before the \(percent)% step's \(step); \(canary.baseline.rawValue) takes every request",
                                     records: records, since: moved)
            } catch let error where index == 0 {
                // Nothing reached the canary yet (a failed install was undone): fail as a switch does.
                if case OrchestratorError.switchFailed(_, _, restored: false) = error { throw error }
                _ = try? next.route(nil, live: canary.baseline, journal: journal, cancellable: false)
                throw error
            } catch {
                return try canaryOff(.rolledBack, "moving to \(percent)% failed: \(Executor.describe(error))", records: records, since: moved)
            }
            let step = try analyse(routing, canary: canary)
            records.append(step.record)
            switch step.result {
            case .passed:
                continue
            case .failed:
                return try canaryOff(.rolledBack, "at \(percent)%: \(step.reason)", records: records, since: moved)
            case .aborted:
                return try canaryOff(.aborted, step.reason, records: records, since: moved)
            }
        }
        journal.phase = .promote
        do {
            _ = try next.switchLocked(.init(target: canary.pool, reason: "deploy \(request.releaseLabel): canary passed \(canary.steps.map { "\($0)%" }.joined(separator: ", "))"),
                                      operation: .deploy, parent: journal, cancellable: true)
        } catch OrchestratorError.cancelled(let step) {
            return try canaryOff(.aborted, "stopped by a signal before the promotion's \(step); \(canary.baseline.rawValue) takes every request",
                                 records: records, since: moved)
        } catch {
            return try canaryOff(.rolledBack, "the promotion failed: \(Executor.describe(error))", records: records, since: moved)
        }
        let reason = "the canary passed " + records.map { "\($0.weight)%" }.joined(separator: ", ") + ": " + (records.last?.reason ?? "")
        return try verdict(.promoted, reason, figures: nil, analysed: ports.clock.monotonic() - moved, steps: records)
    }

    /// One step's analysis from the reload on, and its history entry (a signal cannot stop the record).
    func analyse(_ routing: CanaryRouting, canary: CanaryPlan) throws -> CanaryStepVerdict {
        // The analysis reads the signal itself: the step ends as aborted and the weight goes to 0.
        let verdict = try Executor(stack: next, started: started, journal: journal, cancellable: false)
            .judge(CanaryPlanner.analysis(routing, seconds: canary.seconds, spec: next.spec), log: ports.accessLog(stack.paths.accessLog))
        if verdict.result == .passed {
            stack.report(.done("\(routing.percent)% passed: \(verdict.reason)"))
        }
        let draft = HistoryDraft(action: "canary", from: canary.baseline, to: canary.pool, reason: request.reason,
                                 result: verdict.result.rawValue, detail: "\(routing.percent)%: \(verdict.reason)", image: request.image,
                                 release: request.releaseLabel, figures: verdict.record.figures)
        let record = Record(live: nil, history: draft)
        try journal.starting(Step("record-step", "record the \(routing.percent)% step in the history", .record(record)))
        try next.record(record, started: started)
        return verdict
    }

    /// The canary's weight to 0 — the baseline alone — then the verdict. A second signal does not cut
    /// it short; when it fails, the journal stays so the next command finishes it.
    private func canaryOff(_ result: DeployOutcome.Result, _ reason: String, records: [CanaryStepRecord], since moved: Double) throws -> DeployOutcome {
        let baseline = staging.live
        stack.report(.warning((result == .aborted ? "aborting: " : "rolling back: ") + reason))
        journal.phase = .rollback
        let analysed = ports.clock.monotonic() - moved
        do {
            try next.route(nil, live: baseline, journal: journal, cancellable: false)
            // A promotion that was recorded before it failed made the canary live: switch back as a deploy does.
            if (try? next.store.load())?.live != baseline {
                _ = try next.switchLocked(.init(target: baseline, reason: "rollback of \(request.releaseLabel): \(reason)"),
                                          operation: .deploy, parent: journal, cancellable: false)
            }
        } catch {
            journal.keep = true
            return try verdict(.rollbackFailed, "\(reason); setting \(staging.target.rawValue)'s weight to 0 failed too: \(Executor.describe(error))",
                               figures: nil, analysed: analysed, steps: records)
        }
        return try verdict(result, reason, figures: nil, analysed: analysed, steps: records)
    }
}

extension Stack {
    /// Moves the proxy to a canary's weights, or with nil to `live` alone (see `CanaryPlanner.route`),
    /// under the caller's lock and journal. `cancellable`: a signal before the install stops it.
    @discardableResult
    func route(_ routing: CanaryRouting?, live: Pool, journal: JournalWriter, cancellable: Bool) throws -> PlanRun? {
        let started = ports.clock.monotonic()
        // Only the proxy is inspected: the canary's health is what the analysis judges.
        let observed = try observe([], containers: [spec.proxyContainerName])
        let plan = try CanaryPlanner.route(routing, live: live, spec: spec, renderer: renderer, observed: observed)
        if let routing { report(.step("canary: \(routing.description)")) }
        let ran = try execute(plan, started: started, journal: journal, cancellable: cancellable)
        rotateProxyLog(proxy: observed.containers[spec.proxyContainerName])
        return ran
    }
}
