import NginxConfigGen

/// What recovering an interrupted operation did.
public struct Recovery: Sendable {
    public var interrupted: JournalEntry
    /// One line: what was finished or undone, and which pool is live now.
    public var outcome: String
}

extension Stack {
    /// Finishes or undoes the operation a dead bgctl left in the journal, records the outcome in the
    /// history, and removes the journal. The caller holds the lock, so the journal's writer is gone.
    /// - switch, rollback: when the new configuration may have been installed, the switch is finished
    ///   (checked, as any switch); if that fails, traffic goes back to the pool that was live before.
    ///   Otherwise nothing had changed, and nothing is done.
    /// - deploy: when any configuration may have been installed, traffic goes back to the pool that was
    ///   live before the deploy — a canary's weight to 0 first; the verdict is `aborted`.
    /// - up, down: stopped at a step boundary; the outcome says to run them again.
    /// When neither finishing nor undoing works (say the proxy is down), the error is thrown and the
    /// journal stays — except for `up` (`convergent`), which brings the whole stack to the spec anyway:
    /// it records that the recovery failed, clears the journal and goes on, so a stack can always be
    /// repaired with `bgctl up`.
    @discardableResult
    func recoverInterrupted(convergent: Bool = false) throws -> Recovery? {
        guard dryRun == nil, let entry = journal.read() else { return nil }
        do {
            return try recover(entry)
        } catch let error where convergent {
            let why = Executor.describe(error)
            report(.warning("could not finish or undo the \(entry.title) (\(why)); up brings the stack to the spec instead"))
            let history = HistoryDraft(action: "recover", from: entry.from, to: entry.to, result: "failed",
                                       detail: "\(entry.summary); \(why); cleared by up")
            try record(Record(live: nil, history: history), started: ports.clock.monotonic())
            try journal.remove()
            return Recovery(interrupted: entry, outcome: "not recovered: \(why); up converges the stack")
        } catch {
            throw OrchestratorError.recoveryFailed(operation: entry.title, detail: Executor.describe(error))
        }
    }

    private func recover(_ entry: JournalEntry) throws -> Recovery? {
        report(.warning(entry.summary + "; recovering"))
        let installed = entry.movedTraffic
        let writer = try JournalWriter(journal: journal, entry: entry, phase: .recover)
        var history: HistoryDraft
        var outcome: String
        switch entry.kind {
        case .switch?, .rollback?:
            guard let from = entry.from, let to = entry.to, let operation = entry.kind else { fallthrough }
            if installed {
                do {
                    _ = try switchLocked(.init(target: to, reason: "finishing the interrupted \(entry.title)"), operation: operation,
                                         parent: writer, cancellable: false)
                    outcome = "finished: \(to.rawValue) is live"
                } catch {
                    _ = try switchLocked(.init(target: from, reason: "undoing the interrupted \(entry.title)", force: true),
                                         operation: operation, parent: writer, cancellable: false)
                    outcome = "undone: \(from.rawValue) is live (finishing failed: \(Executor.describe(error)))"
                }
            } else {
                try ports.files.remove(paths.nextDir)
                outcome = "nothing had changed: \(from.rawValue) stays live"
            }
            history = HistoryDraft(action: "recover", from: from, to: to, result: "ok", detail: "\(entry.summary); \(outcome)")
        case .deploy?:
            let from = entry.from ?? observedLive()
            // A before_switch command outlives the docker exec client of a killed bgctl: stop it first.
            if entry.current?.hasPrefix(JournalPhase.beforeSwitch.rawValue + "/") == true, let to = entry.to {
                stopBeforeSwitchLeftovers(in: spec.containerName(to))
            }
            try ports.files.remove(paths.nextDir)
            // A canary goes to weight 0 first: the pool that was live alone, its weights cleared — also when
            // it died between installing a weight and recording it.
            if let state = try store.load(), state.live == from, state.canary != nil || entry.reachedCanary {
                try route(nil, live: from, journal: writer, cancellable: false)
            }
            // Back to the pool that was live before; when it still is, this only re-applies the configuration
            // if the staged release changed it (no reload otherwise).
            _ = try switchLocked(.init(target: from, reason: "undoing the interrupted \(entry.title)"), operation: .deploy,
                                 parent: writer, cancellable: false)
            outcome = installed ? "switched back: \(from.rawValue) is live" : "stopped before the switch: \(from.rawValue) was never touched"
            history = HistoryDraft(action: "deploy", from: from, to: entry.to, result: DeployOutcome.Result.aborted.rawValue,
                                   detail: "\(entry.summary); \(outcome)", image: entry.image, release: entry.release)
        case .up? where entry.reachedSteps.contains(where: { $0.name == "link-tls" }):
            // tls/live may name a pair the proxy has not loaded: the reload loads it (nginx keeps the
            // files it has, should it refuse them), and up converges the rest.
            if let proxy = try observe([], probe: []).containers[spec.proxyContainerName], proxy.isRunning { try reload(proxy) }
            outcome = "stopped while installing a certificate; the proxy was reloaded onto tls/\(TLSLink.name); run bgctl up again to converge"
            history = HistoryDraft(action: entry.operation, to: entry.to, result: "interrupted", detail: "\(entry.summary); \(outcome)")
        default:
            outcome = "stopped at a step boundary; run bgctl \(entry.operation) again to converge"
            history = HistoryDraft(action: entry.operation, to: entry.to, result: "interrupted", detail: "\(entry.summary); \(outcome)")
        }
        try record(Record(live: nil, history: history), started: ports.clock.monotonic())
        writer.finish()
        report(.done("recovered the \(entry.title): \(outcome)"))
        return Recovery(interrupted: entry, outcome: outcome)
    }

    private func observedLive() -> Pool { (try? store.load())?.live ?? spec.active }
}
