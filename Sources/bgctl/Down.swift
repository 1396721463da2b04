import ArgumentParser
import Orchestrator

extension Bgctl {
    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove the stack's containers and network; logs and history stay unless --purge.")

        @Flag(help: "Also delete the state folder's logs, history and rendered configuration.") var purge = false
        @Flag(help: "Print the plan (steps and docker commands) and change nothing.") var dryRun = false
        @Flag(help: "Print the result as one JSON object (schema 1, see the README).") var json = false
        @OptionGroup var options: StackOptions

        func run() throws {
            // First thing: from here on a signal stops the operation at a safe point instead of killing bgctl.
            if !dryRun { Cancellation.install() }
            try reporting(json: json ? "down" : nil) {
                var stack = try options.stack(dryRun: dryRun)
                if json && dryRun { stack.dryRun = { _ in } }
                let plan = try stack.down(purge: purge, lockWait: try options.lockWaitSeconds())
                if json {
                    JSONOutput.print("down", ["ok": true, "dry_run": dryRun, "purge": purge, "changed": !plan.isEmpty && !dryRun,
                                              "steps": JSONOutput.steps(plan)])
                    return
                }
                guard !dryRun else { return }
                let removed = plan.steps.compactMap { step -> String? in
                    switch step.action {
                    case .removeContainer(let name), .removeNetwork(let name): return name
                    case .removeFiles: return purge ? stack.paths.stateDir : nil
                    default: return nil
                    }
                }
                Terminal.stdout(removed.isEmpty ? "down: nothing to remove" : "down: removed \(removed.joined(separator: ", "))")
            }
        }
    }
}
