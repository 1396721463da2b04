import ArgumentParser
import Orchestrator

extension Bgctl {
    struct Rollback: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Switch back to the previous live pool from the history (refused if it is unhealthy, unless --force).",
            discussion: """
            Examples:
              bgctl rollback --reason "p95 too high"
              bgctl rollback --dry-run
            """)

        @Option(help: "Why; recorded in the history.") var reason: String?
        @Flag(help: "Skip the health check of the previous pool.") var force = false
        @Flag(help: "Print the plan (steps and docker commands) and change nothing.") var dryRun = false
        @Flag(help: "Print the result as one JSON object (schema 1, see the README).") var json = false
        @OptionGroup var options: StackOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            // First thing: from here on a signal stops the operation at a safe point instead of killing bgctl.
            if !dryRun { Cancellation.install() }
            try reporting(json: json ? "rollback" : nil) {
                var stack = try options.stack(dryRun: dryRun)
                if json && dryRun { stack.dryRun = { _ in } }
                let outcome = try stack.rollback(reason: reason, force: force, lockWait: try options.lockWaitSeconds())
                if json { return Switch.printJSON(outcome, command: "rollback", dryRun: dryRun) }
                guard !dryRun else { return }
                Switch.print(outcome, verb: "rollback")
            }
        }
    }
}
