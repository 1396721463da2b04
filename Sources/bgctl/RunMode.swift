import NginxConfigGen
import Orchestrator

/// Whether a mutating command acts or only shows its plan: decided here, once, from `--dry-run` and `--json`.
struct RunMode {
    var dryRun = false
    var json = false

    static let live = RunMode()

    /// The first thing a mutating command does: for a real run, from here on a signal stops the
    /// operation at a safe point instead of killing bgctl. A dry run stays killable.
    func begin() {
        if !dryRun { StopSignal.install() }
    }

    /// What the stack does with a plan instead of running it: nil runs it; a dry run lists it as text,
    /// or prints nothing with `--json`, whose object names the steps.
    func planPrinter(_ spec: DeploymentSpec) -> (@Sendable (Plan) -> Void)? {
        guard dryRun else { return nil }
        if json { return { _ in } }
        return { plan in plan.listing(spec).forEach(Terminal.stdout) }
    }
}

/// A mutating command with `--dry-run` and `--json`.
protocol PlanningCommand {
    var dryRun: Bool { get }
    var json: Bool { get }
}

extension PlanningCommand {
    var mode: RunMode { RunMode(dryRun: dryRun, json: json) }
}
