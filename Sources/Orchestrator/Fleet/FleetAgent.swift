import Foundation
import NginxConfigGen

/// One host's part of a fleet switch, run on that host by its agent (`bgctl agent serve`): it holds
/// the host's lock for the whole conversation, and takes the switch apart into the phases the
/// coordinator sequences across hosts — prepare (target healthy, configuration tested, nothing
/// changed), flip (traffic moves, checked through the proxy), record (state.json and the history).
/// The host's journal records each step as any switch does. A flip that was never recorded is undone
/// when the conversation ends early (`end`), so a coordinator that dies leaves no host flipped alone.
public final class FleetAgent: @unchecked Sendable {
    let stack: Stack
    private var lock: StackLock?
    private var plan: Plan?
    private var executor: Executor?
    private var journal: JournalWriter?
    private var target: Pool?
    private var from: Pool?
    private(set) var flipped = false
    private(set) var recorded = false
    private var ended = false

    public init(stack: Stack) { self.stack = stack }

    /// Takes the host's lock (waiting up to `wait`), and finishes or undoes what an earlier bgctl left.
    public func start(wait: Double) throws {
        lock = try stack.lock("fleet switch", wait: wait)
        try stack.recoverInterrupted()
    }

    /// The pool live here now, and whether a switch to `target` changes anything; nothing is changed.
    public func prepare(target: Pool, force: Bool) throws -> (live: Pool, changes: Bool) {
        try stack.ensureEngine()
        let observed = try stack.observe([], probe: force ? [] : [target],
                                         containers: [stack.spec.containerName(target), stack.spec.proxyContainerName])
        let plan = try SwitchPlanner.plan(.init(target: target, reason: "fleet switch", force: force), spec: stack.spec,
                                          renderer: stack.renderer, observed: observed)
        // A configuration to install is tested now, before any host moves.
        if plan.steps.contains(where: { $0.action == .testConfig }) {
            let staged = plan.steps.filter { if case .stageConfig = $0.action { return true }; return $0.action == .testConfig }
            try Executor(stack: stack, started: stack.ports.clock.monotonic(), cancellable: false).run(Plan(title: "test", steps: staged))
        }
        self.plan = plan
        self.target = target
        from = observed.live(stack.spec)
        return (from!, !plan.steps.isEmpty)
    }

    /// Moves this host's traffic to the prepared target and checks it through the proxy; a failure
    /// puts the host back as it was (the executor's restore) before it is thrown.
    public func flip() throws -> Double {
        guard let plan, let target, let from else { throw OrchestratorError.recoveryFailed(operation: "fleet flip", detail: "not prepared") }
        let started = stack.ports.clock.monotonic()
        guard !plan.steps.isEmpty else { return 0 }
        let journal = try JournalWriter(journal: stack.journal, entry: stack.entry(.switch, title: "fleet switch \(from.rawValue) → \(target.rawValue)",
                                                                                  from: from, to: target), phase: .switch)
        self.journal = journal
        let executor = Executor(stack: stack, started: started, journal: journal, cancellable: false)
        self.executor = executor
        do {
            for step in plan.steps where step.name != "record" { try executor.run(step) }
        } catch {
            journal.finish()
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
        stack.followServices(live: target, journal: journal)
        journal?.finish()
        journal = nil
    }

    /// Puts a flip that was not recorded back to the pool live before (checked through the proxy).
    public func unflip() throws {
        guard flipped, !recorded, let from else { return }
        _ = try stack.switchLocked(.init(target: from, reason: "fleet switch undone", force: true), operation: .switch,
                                   parent: journal, cancellable: false)
        flipped = false
        journal?.finish()
        journal = nil
    }

    /// The conversation ended: a flip never recorded is undone, and the lock goes.
    public func end() {
        guard !ended else { return }
        ended = true
        if flipped && !recorded {
            do { try unflip() } catch { stack.report(.warning("could not undo the unrecorded flip: \(Executor.describe(error)); the journal stays for recover")) }
        }
        journal?.finish()
        lock?.release()
        lock = nil
    }
}
