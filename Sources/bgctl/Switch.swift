import ArgumentParser
import Foundation
import NginxConfigGen
import Orchestrator

extension Bgctl {
    struct Switch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a pool live with a checked nginx reload (never a container recreate).",
            discussion: """
            Checks the target's health, renders, runs nginx -t, reloads, and verifies through the proxy that
            new requests reach the target. On any failure the previous configuration is restored (exit 1).
            """)

        @Argument(help: "The pool to make live: blue or green.") var pool: Pool
        @Option(help: "Why; recorded in the history.") var reason: String?
        @Flag(help: "Skip the target's health check (the post-reload verification still runs).") var force = false
        @Flag(help: "Print the docker commands that would change something, and change nothing.") var dryRun = false
        @OptionGroup var options: StackOptions

        func run() async throws {
            try await orchestrating {
                let stack = try options.stack()
                if dryRun {
                    for command in stack.planSwitch(to: pool) { Terminal.stdout(command.description) }
                    return
                }
                let outcome = try stack.switchTo(pool, reason: reason, force: force, lockWait: try options.lockWaitSeconds())
                if outcome.alreadyLive {
                    Terminal.stdout("switch: \(pool.rawValue) is already live; nothing to do")
                    return
                }
                let steps = outcome.timings.map { "\($0.0) \(Int($0.1 * 1000)) ms" }.joined(separator: ", ")
                Terminal.stdout("switch: \(outcome.from.rawValue) → \(outcome.to.rawValue) in \(Int(outcome.total * 1000)) ms (\(steps))")
            }
        }
    }
}
