import ArgumentParser
import NginxConfigGen
import Orchestrator

extension Bgctl {
    struct Switch: ParsableCommand, PlanningCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a pool live with a checked nginx reload (never a container recreate).",
            discussion: """
            Checks the target's health, renders, runs nginx -t, reloads, and verifies through the proxy that
            new requests reach the target. On any failure the previous configuration is restored (exit 1).

            Examples:
              bgctl switch green --reason "release 1.4"
              bgctl switch blue --dry-run
              bgctl switch green --json
            """)

        @Argument(help: "The pool to make live: blue or green.") var pool: Pool
        @Option(help: "Why; recorded in the history.") var reason: String?
        @Flag(help: "Skip the target's health check (the post-reload verification still runs).") var force = false
        @Flag(help: "Print the plan (steps and docker commands) and change nothing.") var dryRun = false
        @Flag(help: "Print the result as one JSON object (schema 1, see the README).") var json = false
        @OptionGroup var options: StackOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            mode.begin()
            try reporting(json: json ? "switch" : nil) {
                let (fleet, written) = try options.fleetOrSpec()
                if let fleet {
                    if dryRun {
                        guard !json else { throw ValidationError("--json with --dry-run: on a fleet the plans are each host's text") }
                        let note = fleet.fleet.strategy == .all ? "every host prepares, then all flip at once, then all record; a failure flips every host back"
                            : "\(fleet.fleet.batch) host(s) at a time, each batch all-or-nothing; a failing batch switches the batches before it back"
                        return try FleetCommands.dryRun(fleet, ["switch", pool.rawValue] + (force ? ["--force"] : []), note: note)
                    }
                    return try FleetCommands.switchTo(fleet, pool, force: force, lockWait: options.lockWaitSeconds(), json: json)
                }
                let stack = try options.stack(mode, written: written)
                let outcome = try stack.switchTo(.init(target: pool, reason: reason, force: force), lockWait: options.lockWaitSeconds())
                if json { return Switch.printJSON(outcome, command: "switch", dryRun: dryRun) }
                guard !dryRun else { return }
                Switch.print(outcome, verb: "switch")
            }
        }

        static func printJSON(_ outcome: SwitchOutcome, command: String, dryRun: Bool) {
            JSONOutput.print(command, ["ok": true, "dry_run": dryRun, "from": outcome.from.rawValue, "to": outcome.to.rawValue,
                                       "changed": !outcome.alreadyLive && !dryRun, "steps": JSONOutput.steps(outcome.plan),
                                       "timings": JSONOutput.timings(outcome.timings),
                                       "total_ms": dryRun ? nil : JSONOutput.milliseconds(outcome.total)])
        }

        static func print(_ outcome: SwitchOutcome, verb: String) {
            if outcome.alreadyLive {
                Terminal.stdout("\(verb): \(outcome.plan.nothingToDo ?? "nothing to do")")
                return
            }
            let steps = outcome.timings.map { "\($0.0) \(Int(($0.1 * 1000).rounded())) ms" }.joined(separator: ", ")
            Terminal.stdout("\(verb): \(outcome.from.rawValue) → \(outcome.to.rawValue) in \(Int(outcome.total * 1000)) ms (\(steps))")
        }
    }
}
