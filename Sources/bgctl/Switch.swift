import ArgumentParser
import NginxConfigGen
import Orchestrator

extension Bgctl {
    struct Switch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a pool live with a checked nginx reload (never a container recreate).",
            discussion: """
            Checks the target's health, renders, runs nginx -t, reloads, and verifies through the proxy that
            new requests reach the target. On any failure the previous configuration is restored (exit 1).
            """)

        @Argument(help: "The pool to make live: blue or green.") var pool: Pool
        @Option(help: "Why; recorded in the history.") var reason: String?
        @Flag(help: "Skip the target's health check (the post-reload verification still runs).") var force = false
        @Flag(help: "Print the plan (steps and docker commands) and change nothing.") var dryRun = false
        @OptionGroup var options: StackOptions

        func run() throws {
            // First thing: from here on a signal stops the operation at a safe point instead of killing bgctl.
            if !dryRun { Cancellation.install() }
            try reporting {
                let stack = try options.stack(dryRun: dryRun)
                let outcome = try stack.switchTo(.init(target: pool, reason: reason, force: force), lockWait: try options.lockWaitSeconds())
                guard !dryRun else { return }
                Switch.print(outcome, verb: "switch")
            }
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
