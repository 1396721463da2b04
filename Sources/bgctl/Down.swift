import ArgumentParser
import Orchestrator

extension Bgctl {
    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove the stack's containers and network; logs and history stay unless --purge.")

        @Flag(help: "Also delete the state folder's logs, history and rendered configuration.") var purge = false
        @Flag(help: "Print the plan (steps and docker commands) and change nothing.") var dryRun = false
        @OptionGroup var options: StackOptions

        func run() throws {
            // First thing: from here on a signal stops the operation at a safe point instead of killing bgctl.
            if !dryRun { Cancellation.install() }
            try reporting {
                let stack = try options.stack(dryRun: dryRun)
                let plan = try stack.down(purge: purge, lockWait: try options.lockWaitSeconds())
                guard !dryRun else { return }
                Terminal.stdout(plan.isEmpty ? "down: nothing to remove" : "down: done (\(plan.steps.count) steps)")
            }
        }
    }
}
