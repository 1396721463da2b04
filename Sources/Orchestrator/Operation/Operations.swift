import Foundation
import NginxConfigGen

public struct UpSummary: Sendable {
    public var live: Pool
    public var plan: Plan
    /// With proxy.tls.acme: what became of the certificate.
    public var certificate: CertificateOutcome?
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
        /// A deploy.before_switch command failed or ran out of time: nothing was switched.
        case beforeSwitchFailed = "before_switch_failed"
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
    /// Brings the stack to the spec (see `UpPlanner`). With proxy.tls.acme it serves the challenge
    /// first (plain HTTP alone while there is no certificate), then obtains or renews the certificate
    /// when it is due and the schedule allows, and installs it with a second, checked pass.
    public func up(lockWait: Double) throws -> UpSummary {
        let started = ports.clock.monotonic()
        try ensureEngine()
        let lock = try self.lock("up", wait: lockWait)
        defer { lock?.release() }
        guard let acme = spec.proxy.tls?.acme else { return try upPass(tls: tls, started: started, lockWait: lockWait) }
        let certificateLock = try self.certificateLock(wait: lockWait)
        defer { certificateLock?.release() }
        let served = acmeMaterial()
        var summary = try upPass(tls: served, started: started, lockWait: lockWait)
        summary.certificate = try certify(acme, served: served, force: false, started: started, lockWait: lockWait)
        return summary
    }

    /// `bgctl certs renew`: proxy.tls.acme's certificate renewed when due (or `force`) and installed.
    /// Refused when `up` has anything else to do: a timer that renews must not apply a spec edited
    /// since. A failure is thrown even while the current certificate serves (the timer's job failed).
    public func renewCertificate(force: Bool, lockWait: Double) throws -> CertificateOutcome {
        guard let acme = spec.proxy.tls?.acme else { throw OrchestratorError.acmeNotConfigured }
        let started = ports.clock.monotonic()
        try ensureEngine()
        let lock = try self.lock("certs renew", wait: lockWait)
        defer { lock?.release() }
        let certificateLock = try self.certificateLock(wait: lockWait)
        defer { certificateLock?.release() }
        let served = acmeMaterial()
        // Judged against the pair the proxy has (tls/live): installing the stored one is this command's own work.
        let installed = installedACMEMaterial()
        do {
            let frontLock = try self.frontLock(wait: lockWait)
            defer { frontLock?.release() }
            try recoverInterrupted(convergent: true)
            let observed = try observe([.network, .files], probe: [])
            let registry = front == nil ? nil : try frontRegistry()
            let plan = try UpPlanner.plan(.init(pull: pull, specFile: specFile, tls: installed, front: registry, acmeCAFile: acmeCAFile, events: events),
                                          spec: spec, paths: paths, renderer: renderer, observed: observed)
            guard observed.state != nil else { throw OrchestratorError.notUp }
            let pending = plan.steps.filter { step in
                if case .warn = step.action { return false }
                return !["record", "prune-tls", "wait-healthy", "remember-tested"].contains(step.name)
            }
            if !pending.isEmpty {
                throw OrchestratorError.acmeFailed(detail: "certs renew changes nothing but the certificate, and up has more to do here (\(pending.map(\.name).joined(separator: ", "))); run bgctl up, which renews too", nextAttempt: nil)
            }
        }
        var outcome = try certify(acme, served: served, force: force, started: started, lockWait: lockWait, failWhenServing: true)
        if outcome.result == .current, let served, served.fingerprint != installed?.fingerprint {
            _ = try upPass(tls: served, started: started, lockWait: lockWait)
            certificateStore.prune()
            outcome.result = .installed
        }
        return outcome
    }

    /// acme/lock, which the watcher's renewal also takes; nil for a dry run.
    func certificateLock(wait: Double) throws -> CertificateLock? {
        guard dryRun == nil else { return nil }
        guard let lock = try CertificateLock.acquire(certificateStore, wait: wait, clock: ports.clock) else {
            throw OrchestratorError.lockTimeout(holder: "the stack's watcher, renewing the certificate (\(certificateStore.lockFile))")
        }
        return lock
    }

    /// One pass of `up` with `tls` as the pair to serve, under the front's lock when there is a front
    /// (taken per pass: an issuance between two passes can take minutes, and other projects' changes
    /// to the front need not wait for it).
    func upPass(tls: TLSMaterial?, started: Double, lockWait: Double) throws -> UpSummary {
        let frontLock = try self.frontLock(wait: lockWait)
        defer { frontLock?.release() }
        try recoverInterrupted(convergent: true)
        let observed = try observe([.network, .files], probe: Pool.allCases)
        rotateProxyLog(proxy: observed.containers[spec.proxyContainerName])
        let registry = front == nil ? nil : try frontRegistry()
        let plan = try UpPlanner.plan(.init(pull: pull, specFile: specFile, tls: tls, front: registry, acmeCAFile: acmeCAFile, events: events),
                                      spec: spec, paths: paths, renderer: renderer, observed: observed)
        try journaled(entry(.up, title: "up", to: observed.live(spec)), phase: .up) { journal in
            try execute(plan, started: started, journal: journal)
            followServices(live: (try? store.load())?.live ?? observed.live(spec), journal: journal, strays: true)
        }
        return UpSummary(live: observed.live(spec), plan: plan)
    }

    /// Renews or obtains proxy.tls.acme's certificate when due (or `force`), and installs it with an
    /// `up` pass that changes nothing else: `certs renew` checks first that up has nothing else to do.
    /// With no certificate to serve, a failure is thrown (`acmeFailed`: the stack stays on plain HTTP);
    /// with one, it is a warning, and that certificate keeps serving.
    func certify(_ acme: ACMESpec, served: TLSMaterial?, force: Bool, started: Double, lockWait: Double,
                 failWhenServing: Bool = false) throws -> CertificateOutcome {
        let names = spec.proxy.hosts
        let need = certificateNeed(acme)
        var outcome = CertificateOutcome(result: .current, names: names, notAfter: served?.info.notAfter)
        if case .none(let renewAt) = need, !force {
            outcome.renewAt = renewAt
            return outcome
        }
        let why: String
        switch need {
        case .none: why = "renewal forced"
        case .renewal: why = "renewal is due"
        case .issuance(let reason): why = reason
        }
        if dryRun != nil {
            report(.step("then obtain a certificate for \(names.joined(separator: ", ")) from \(acme.directory) by ACME HTTP-01 (\(why)) and install it (not in a dry run)"))
            outcome.result = .planned
            return outcome
        }
        let store = certificateStore
        let record = store.renewal()
        let now = ports.clock.now()
        if !force && !RenewalPolicy.mayAttempt(record, at: now) {
            let last = record.lastError.map { "; the last attempt failed: \($0)" } ?? ""
            if served == nil || failWhenServing {
                throw OrchestratorError.acmeFailed(detail: "acme: \(why), but the schedule allows no attempt yet\(last)", nextAttempt: record.nextAttempt)
            }
            report(.warning("certificate \(why), but the schedule allows no attempt until \(record.nextAttempt ?? "later")\(last); the current certificate keeps serving"))
            outcome.result = .pending
            outcome.nextAttempt = record.nextAttempt.flatMap(ISOTime.parse)
            outcome.detail = record.lastError
            return outcome
        }
        let obtained: TLSMaterial
        do {
            obtained = try obtainCertificate(acme, deadline: Double(acme.timeout.milliseconds) / 1000).1
        } catch OrchestratorError.acmeFailed(let detail, let next) where served != nil && !failWhenServing {
            report(.warning(detail + "; the current certificate keeps serving" + (next.map { " (next attempt from \($0))" } ?? "")))
            outcome.result = .pending
            outcome.nextAttempt = next.flatMap(ISOTime.parse)
            outcome.detail = detail
            return outcome
        }
        _ = try upPass(tls: obtained, started: started, lockWait: lockWait)
        store.prune()
        outcome.result = served == nil || { if case .issuance = need { return true }; return false }() ? .issued : .renewed
        outcome.notAfter = obtained.info.notAfter
        outcome.renewAt = RenewalPolicy.renewAt(notBefore: obtained.info.notBefore, notAfter: obtained.info.notAfter)
        return outcome
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
            let ran = try self.execute(plan, started: started, journal: journal, cancellable: cancellable)
            // Traffic moved and was recorded: the services follow it.
            self.followServices(live: request.target, journal: journal)
            return ran
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
        // Service containers the spec no longer names (a service removed, replicas cut) go too.
        let strays = ((try? labelledServices()) ?? []).filter { !allContainerNames.contains($0) }
        let observed = try observe([.network, .files], containers: allContainerNames + strays)
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
            if let plan = DeployPlanner.beforeSwitch(staging) { dryRun(plan) }
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
