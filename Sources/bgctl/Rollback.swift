import ArgumentParser
import NginxConfigGen
import Orchestrator

extension Bgctl {
    struct Rollback: ParsableCommand, PlanningCommand {
        static let configuration = CommandConfiguration(
            abstract: "Switch back to the previous live pool from the history (refused if it is unhealthy, unless --force); with --to, deploy an earlier release again.",
            discussion: """
            --to RELEASE puts a release from the history (or one a pool runs now) back through the same path as
            bgctl deploy: staged on the idle pool, health-checked, switched, analysed, rolled back on failure.
            Exit status with --to: as deploy (0 promoted or already live, 6 rolled back, 7 rollback failed, 8 stopped),
            9 the release's image is no longer on this host (nothing was changed), 64 an unknown release.

            Examples:
              bgctl rollback --reason "p95 too high"
              bgctl rollback --to v41 --reason "v42 breaks checkout"
              bgctl rollback --dry-run
            """)

        @Option(name: .customLong("to"), help: ArgumentHelp("Deploy this earlier release again (its image from the history).", valueName: "RELEASE"))
        var release: String?
        @Option(help: ArgumentHelp("With --to: how long to analyse after the switch, at least \(AnalysisDuration.minimum) (default: deploy.analyze).", valueName: "DURATION"),
                transform: AnalysisDuration.parse)
        var analyze: AnalysisDuration?
        @Option(help: "Why; recorded in the history.") var reason: String?
        @Flag(help: "Skip the health check of the previous pool (not with --to, which checks the release it starts).") var force = false
        @Flag(help: "Print the plan (steps and docker commands) and change nothing.") var dryRun = false
        @Flag(help: "Print the result as one JSON object (schema 1, see the README).") var json = false
        @OptionGroup var options: StackOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            mode.begin()
            try reporting(json: json ? "rollback" : nil) {
                if let release {
                    return try rollbackTo(release)
                }
                guard analyze == nil else { throw ValidationError("--analyze applies to rollback --to RELEASE only") }
                let (fleet, written) = try options.fleetOrSpec()
                if let fleet {
                    if dryRun {
                        guard !json else { throw ValidationError("--json with --dry-run: on a fleet the plans are each host's text") }
                        return try FleetCommands.dryRun(fleet, ["rollback"] + (force ? ["--force"] : []),
                                                        note: "every host switches back to the pool its history names, all-or-nothing")
                    }
                    return try FleetCommands.report(fleet.rollback(force: force, lockWait: options.lockWaitSeconds()), command: "rollback", json: json)
                }
                let stack = try options.stack(mode, written: written)
                let outcome = try stack.rollback(reason: reason, force: force, lockWait: options.lockWaitSeconds())
                if json { return Switch.printJSON(outcome, command: "rollback", dryRun: dryRun) }
                guard !dryRun else { return }
                Switch.print(outcome, verb: "rollback")
            }
        }

        private func rollbackTo(_ release: String) throws {
            guard Syntax.isReleaseValue(release) else {
                throw ValidationError("--to: letters, digits and . _ : + / @ - only (at most 128)")
            }
            guard !force else {
                throw ValidationError("--force skips the health check of a switch back; rollback --to starts the release and checks it as a deploy does")
            }
            let stack = try options.stack(mode)
            switch try stack.rollback(to: release, reason: reason, analyze: analyze?.seconds, lockWait: options.lockWaitSeconds()) {
            case .alreadyLive(let pool, let known):
                if json {
                    JSONOutput.print("rollback", ["ok": true, "dry_run": dryRun, "result": "already_live", "target": pool.rawValue,
                                                  "previous": pool.rawValue, "image": known.image, "release": known.release,
                                                  "reason": "already live", "figures": nil, "total_ms": nil, "analysed_ms": nil,
                                                  "to_release": known.release])
                } else {
                    Terminal.stdout("rollback: \(known.release) (\(known.image)) is already live on \(pool.rawValue); nothing to do")
                }
            case .deployed(let outcome, let known):
                try Deploy.finish(outcome, stack: stack, dryRun: dryRun, json: json, command: "rollback", extra: ["to_release": known.release])
            }
        }
    }
}
