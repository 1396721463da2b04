import ArgumentParser
import Foundation
import NginxConfigGen
import Orchestrator
import Watcher

extension Bgctl {
    struct Deploy: ParsableCommand, PlanningCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ship an image to the idle pool, switch (or move traffic in canary steps), analyse the proxy's log, and roll back automatically.",
            discussion: """
            With --canary (or deploy.canary) the new release gets 5%, 25%, … of the requests beside the live pool,
            each step compared with the live pool for --step, then is promoted; a failing step sets its weight to 0.
            Exit status: 0 promoted (or staged with --no-switch), 1 not switched (the live pool was never touched),
            6 rolled back to the previous pool (or a canary's weight set to 0), 7 the rollback failed too (a person must act),
            8 stopped by SIGINT/SIGTERM/SIGHUP: before the switch nothing live was touched; after it, traffic
            went back to the previous pool and the verdict "aborted" was recorded and announced.

            Examples:
              bgctl deploy --image shop/api:1.4 --reason "ticket 42"
              bgctl deploy --image shop/api:1.5 --analyze 2m --env FEATURE_X=1
              bgctl deploy --image shop/api:1.5 --no-switch
            """)

        @Option(help: "The image to deploy.", transform: ImageArgument.parse) var image: ImageArgument
        @Option(help: "Release label (default: the image's tag).") var release: String?
        @Option(name: .customLong("env"), help: ArgumentHelp("Environment for the new release, on top of the spec's (repeatable).", valueName: "KEY=VALUE"))
        var env: [EnvironmentPair] = []
        @Option(help: ArgumentHelp("How long to analyse after the switch, at least \(AnalysisDuration.minimum) (default: deploy.analyze).", valueName: "DURATION"),
                transform: AnalysisDuration.parse)
        var analyze: AnalysisDuration?
        @Flag(help: "Stop after the new release is healthy on the idle pool; switch later by hand.") var noSwitch = false
        @Option(help: ArgumentHelp("Canary steps: percent of requests for the new release at each step, e.g. 5,25,50 (1–99, increasing, at most 10), or none for a blue-green deploy (default: deploy.canary).", valueName: "PERCENTS"),
                transform: CanaryStepsArgument.parse)
        var canary: CanaryStepsArgument?
        @Option(help: ArgumentHelp("How long each canary step is analysed, at least \(AnalysisDuration.minimum) (default: deploy.step).", valueName: "DURATION"),
                transform: AnalysisDuration.parse)
        var step: AnalysisDuration?
        @Flag(help: "Keep each client on one pool during the canary (a cookie; default: deploy.sticky).") var sticky = false
        @Option(help: ArgumentHelp("Give up waiting for the new release to be healthy after this long (default: from app.health).", valueName: "DURATION"),
                transform: PositiveDuration.parse)
        var timeout: PositiveDuration?
        @Option(help: "Why; recorded in the history and the notifications.") var reason: String?
        @Flag(help: "Print the plan (steps and docker commands) and change nothing.") var dryRun = false
        @Flag(help: "Print the result as one JSON object (schema 1, see the README).") var json = false
        @OptionGroup var options: StackOptions
        @OptionGroup var output: OutputOptions

        /// The deploy the flags ask for; the spec's defaults fill the rest later.
        func request() throws -> DeployRequest {
            if let release, !Syntax.isReleaseValue(release) {
                throw ValidationError("--release: letters, digits and . _ : + / @ - only (at most 128)")
            }
            if let problem = env.lazy.compactMap(\.problem).first { throw ValidationError(problem) }
            var request = DeployRequest(image: image.reference)
            request.release = release
            for pair in env { request.env[pair.name] = pair.value }
            request.analyze = analyze?.seconds
            request.noSwitch = noSwitch
            request.reason = reason
            request.canary = canary?.steps
            request.step = step?.seconds
            if sticky { request.sticky = true }
            return request
        }

        func run() throws {
            mode.begin()
            try reporting(json: json ? "deploy" : nil) {
                let request = try self.request()
                let (fleet, written) = try options.fleetOrSpec()
                // Before Docker is asked anything: a flag that does not fit the spec is a usage error.
                try Self.check(request, spec: written)
                if let fleet {
                    guard timeout == nil else { throw ValidationError("--timeout: on a fleet each host waits as app.health says") }
                    if dryRun {
                        guard !json else { throw ValidationError("--json with --dry-run: on a fleet the plans are each host's text") }
                        let steps = request.canarySteps(written)
                        var arguments = ["deploy", "--image", request.image, "--release", request.releaseLabel,
                                         "--canary", steps.map { $0.map(String.init).joined(separator: ",") } ?? "none"]
                        if let step = request.step { arguments += ["--step", "\(Int(step))s"] }
                        if request.sticky == true { arguments.append("--sticky") }
                        if let analyze = request.analyze { arguments += ["--analyze", "\(Int(analyze))s"] }
                        if request.noSwitch { arguments.append("--no-switch") }
                        // Values stay here: a host's plan shows the names (a command line on a host is visible to its users).
                        for name in request.env.keys.sorted() { arguments += ["--env", "\(name)=(value not sent for a dry run)"] }
                        return try FleetCommands.dryRun(fleet, arguments, note: "every host stages at once; deploy.before_switch runs once, on \(fleet.fleet.hosts[0].name) only"
                                                        + "; then the fleet's switch, every host's log analysed together, one verdict")
                    }
                    return try FleetCommands.deploy(fleet, request, lockWait: options.lockWaitSeconds(), json: json)
                }
                var stack = try options.stack(mode, written: written)
                if let timeout { stack.healthTimeout = timeout.seconds }
                let outcome = try stack.deploy(request, lockWait: options.lockWaitSeconds())
                try Self.finish(outcome, stack: stack, dryRun: dryRun, json: json, command: "deploy")
            }
        }

        /// Announces the verdict (not for a dry run) and prints it, as text or one JSON object; throws
        /// the exit status of a verdict other than promoted or staged. Shared with `rollback --to`.
        static func finish(_ outcome: DeployOutcome, stack: Stack, dryRun: Bool, json: Bool, command: String,
                           extra: [String: Any?] = [:]) throws {
            if !dryRun { DeployAnnouncement.send(outcome, spec: stack.spec) { Terminal.stderr("\(command): " + $0) } }
            if json {
                let own: [String: Any?] = [
                    "ok": outcome.result == .promoted || outcome.result == .staged || outcome.result == .planned,
                    "dry_run": dryRun, "result": outcome.result.rawValue, "target": outcome.target.rawValue,
                    "previous": outcome.previous.rawValue, "image": outcome.image, "release": outcome.release,
                    "reason": outcome.reason.isEmpty ? nil : outcome.reason, "figures": outcome.figures?.dictionary,
                    "canary": outcome.canary.map { ["steps": $0.steps, "step_seconds": $0.seconds, "sticky": $0.sticky] as [String: Any] },
                    "steps": outcome.canary == nil ? nil : outcome.steps.map { ["weight": $0.weight, "result": $0.result, "reason": $0.reason, "figures": $0.figures] as [String: Any] },
                    "total_ms": dryRun ? nil : JSONOutput.milliseconds(outcome.total),
                    "analysed_ms": dryRun ? nil : JSONOutput.milliseconds(outcome.analysed)]
                JSONOutput.print(command, extra.merging(own) { _, own in own })
                switch outcome.result {
                case .rolledBack: throw CLIError.exit(ExitStatus.rolledBack)
                case .rollbackFailed: throw CLIError.exit(ExitStatus.rollbackFailed)
                case .aborted: throw CLIError.exit(ExitStatus.aborted)
                case .beforeSwitchFailed: throw CLIError.exit(ExitStatus.beforeSwitchFailed)
                case .promoted, .staged, .planned: return
                }
            }
            guard !dryRun else { return }
            switch outcome.result {
            case .staged, .planned:
                Terminal.stdout("\(command): \(outcome.reason)")
            case .promoted:
                printSteps(outcome)
                Terminal.stdout("\(command): promoted \(outcome.release) on \(outcome.target.rawValue) in \(Int(outcome.total)) s (\(outcome.reason))")
            case .rolledBack:
                printSteps(outcome)
                let back = outcome.canary == nil ? "rolled back to \(outcome.previous.rawValue)" : "rolled back: \(outcome.target.rawValue)'s weight is 0, \(outcome.previous.rawValue) takes every request,"
                Terminal.stdout("\(command): \(back) after \(String(format: "%.1f", outcome.analysed)) s of analysis: \(outcome.reason)")
                throw CLIError.exit(ExitStatus.rolledBack)
            case .aborted:
                printSteps(outcome)
                Terminal.stdout("\(command): aborted: \(outcome.reason); \(outcome.previous.rawValue) is live")
                throw CLIError.exit(ExitStatus.aborted)
            case .beforeSwitchFailed:
                Terminal.stderr(Terminal.style("error:", .red) + " " + Terminal.safe(outcome.reason))
                throw CLIError.exit(ExitStatus.beforeSwitchFailed)
            case .rollbackFailed:
                let traffic = outcome.canary == nil ? "Traffic is on \(outcome.target.rawValue), the release that failed analysis."
                    : "Requests may still reach \(outcome.target.rawValue), the canary (its weight was not set to 0)."
                Terminal.stderr(Terminal.style("error:", .red) + " \(outcome.reason)\n\(traffic) Act now: check `bgctl status`, then `bgctl switch \(outcome.previous.rawValue) --force` once \(outcome.previous.rawValue) is healthy.")
                throw CLIError.exit(ExitStatus.rollbackFailed)
            }
        }

        /// Combinations the spec decides: flags that mean nothing for the deploy asked for are refused.
        static func check(_ request: DeployRequest, spec: DeploymentSpec) throws {
            if request.noSwitch, let steps = request.canary, !steps.isEmpty {
                throw ValidationError("--canary: --no-switch stops before any traffic moves; drop one of them")
            }
            guard request.canarySteps(spec) == nil else {
                if request.analyze != nil {
                    throw ValidationError("--analyze is for a blue-green deploy; a canary analyses each step for --step (deploy.step). Add --canary none for a blue-green deploy")
                }
                return
            }
            if request.step != nil { throw ValidationError("--step: no canary to step through (give --canary or set deploy.canary)") }
            if request.sticky == true { throw ValidationError("--sticky: no canary to keep clients on (give --canary or set deploy.canary)") }
        }

        /// Each canary step's figures, one line each.
        static func printSteps(_ outcome: DeployOutcome) {
            for step in outcome.steps { Terminal.stdout("  canary \(step.summary)") }
        }
    }
}
