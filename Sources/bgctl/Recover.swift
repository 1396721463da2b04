import ArgumentParser
import Orchestrator

extension Bgctl {
    struct Recover: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Finish or undo an operation that was interrupted (bgctl killed, host lost power); every mutating command does this first.",
            discussion: """
            A switch whose new configuration may have been installed is finished (checked, as any switch), or
            undone when the target is not healthy; one that never got that far changed nothing. An interrupted
            deploy goes back to the pool that was live before it (verdict "aborted"). up and down stop at a step
            boundary: run them again. The outcome is written to the history.

            Examples:
              bgctl recover
              bgctl -f /srv/shop/bgctl.yaml recover
            """)

        @OptionGroup var options: StackOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            try reporting {
                let (fleet, written) = try options.fleetOrSpec()
                if let fleet { return try FleetCommands.recover(fleet, lockWait: options.lockWaitSeconds()) }
                let stack = try options.stack(written: written)
                if let recovery = try stack.recover(lockWait: options.lockWaitSeconds()) {
                    Terminal.stdout("recover: \(Terminal.field(recovery.interrupted.title)): \(Terminal.field(recovery.outcome))")
                } else {
                    Terminal.stdout("recover: nothing was interrupted")
                }
            }
        }
    }
}
