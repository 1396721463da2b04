import ArgumentParser
import Orchestrator

extension Bgctl {
    struct Down: ParsableCommand, PlanningCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove the stack's containers and network; logs and history stay unless --purge.",
            discussion: """
            Examples:
              bgctl down
              bgctl down --purge --dry-run
              bgctl down --purge --yes
            """)

        @Flag(help: "Also delete the state folder's logs, history and rendered configuration (asks first on a terminal).") var purge = false
        @Flag(name: [.customShort("y"), .long], help: "Do not ask before --purge deletes (required without a terminal).") var yes = false
        @Flag(help: "Print the plan (steps and docker commands) and change nothing.") var dryRun = false
        @Flag(help: "Print the result as one JSON object (schema 1, see the README).") var json = false
        @OptionGroup var options: StackOptions
        @OptionGroup var output: OutputOptions

        /// Deleting logs and history cannot be undone: a person confirms it, a script says --yes. Checked
        /// before the spec or Docker is touched, like every usage error.
        func validate() throws {
            if purge && !yes && !dryRun && !Terminal.stdinIsTTY {
                throw ValidationError("--purge deletes the stack's logs, history and state, and there is no terminal to confirm on: add --yes")
            }
        }

        func run() throws {
            try reporting(json: json ? "down" : nil) {
                // Loaded once, here: each spec warning is printed once.
                let written = try options.spec.load()
                if let fleet = try options.fleet(written) {
                    if dryRun {
                        guard !json else { throw ValidationError("--json with --dry-run: on a fleet the plans are each host's text") }
                        return try FleetCommands.dryRun(fleet, ["down", "--yes"] + (purge ? ["--purge"] : []),
                                                        note: "every host at once, then its agent \(fleet.agentName)")
                    }
                    if purge && !yes { throw ValidationError("--purge on a fleet deletes every host's logs, history and state: add --yes") }
                    return try FleetCommands.down(fleet, purge: purge, json: json)
                }
                if purge && !yes && !dryRun {
                    let paths = StackPaths(spec: written, specDirectory: options.spec.directory)
                    let question = "down --purge: remove the stack's containers and network, and delete its logs, history and state in \(Terminal.safe(paths.stateDir))? [y/N] "
                    guard Terminal.confirm(question) else { throw CLIError.failed("not confirmed; nothing was removed") }
                }
                // From here on a signal stops the operation at a safe point instead of killing bgctl.
                mode.begin()
                let stack = try options.stack(mode, written: written)
                let plan = try stack.down(purge: purge, lockWait: options.lockWaitSeconds())
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
