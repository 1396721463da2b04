import ArgumentParser
import Foundation
import NginxConfigGen
import Orchestrator
import Watcher

extension Bgctl {
    struct Deploy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ship an image to the idle pool, switch, analyse the proxy's log, and roll back automatically.",
            discussion: """
            Exit status: 0 promoted (or staged with --no-switch), 1 not switched (the live pool was never touched),
            6 rolled back to the previous pool, 7 the rollback failed too (a person must act),
            8 stopped by SIGINT/SIGTERM/SIGHUP: before the switch nothing live was touched; after it, traffic
            went back to the previous pool and the verdict "aborted" was recorded and announced.
            """)

        @Option(help: "The image to deploy.") var image: String
        @Option(help: "Release label (default: the image's tag).") var release: String?
        @Option(name: .customLong("env"), help: ArgumentHelp("Environment for the new release, on top of the spec's (repeatable).", valueName: "KEY=VALUE"))
        var env: [String] = []
        @Option(help: ArgumentHelp("How long to analyse after the switch (default: deploy.analyze).", valueName: "DURATION"))
        var analyze: String?
        @Flag(help: "Stop after the new release is healthy on the idle pool; switch later by hand.") var noSwitch = false
        @Option(help: ArgumentHelp("Give up waiting for the new release to be healthy after this long (default: from app.health).", valueName: "DURATION"))
        var timeout: String?
        @Option(help: "Why; recorded in the history and the notifications.") var reason: String?
        @Flag(help: "Print the plan (steps and docker commands) and change nothing.") var dryRun = false
        @Flag(help: "Print the result as one JSON object (schema 1, see the README).") var json = false
        @OptionGroup var options: StackOptions

        func run() throws {
            // First thing: from here on a signal stops the operation at a safe point instead of killing bgctl.
            if !dryRun { Cancellation.install() }
            try reporting(json: json ? "deploy" : nil) {
                var request = DeployRequest(image: image)
                guard Syntax.isImageReferenceValue(image) else {
                    throw ValidationError("--image: not a valid image reference: \"\(image)\"")
                }
                if let release, !Syntax.isReleaseValue(release) {
                    throw ValidationError("--release: letters, digits and . _ : + / @ - only (at most 128)")
                }
                request.release = release
                for pair in env {
                    guard let eq = pair.firstIndex(of: "="), Syntax.isEnvironmentNameValue(String(pair[..<eq])) else {
                        throw ValidationError("--env: expected KEY=VALUE with a valid variable name, found \"\(pair.split(separator: "=").first ?? "")\"")
                    }
                    let value = String(pair[pair.index(after: eq)...])
                    guard !value.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\0" }) else {
                        throw ValidationError("--env \(pair[..<eq]): a value cannot hold a line break or NUL")
                    }
                    request.env[String(pair[..<eq])] = value
                }
                if let analyze { request.analyze = try DurationFlag.seconds(analyze, flag: "--analyze") }
                request.noSwitch = noSwitch
                request.reason = reason
                let healthTimeout = try timeout.map { try DurationFlag.seconds($0, flag: "--timeout") }
                var stack = try options.stack(dryRun: dryRun)
                if json && dryRun { stack.dryRun = { _ in } }
                if let healthTimeout { stack.healthTimeout = healthTimeout }
                let outcome = try stack.deploy(request, lockWait: try options.lockWaitSeconds())
                try Self.finish(outcome, stack: stack, dryRun: dryRun, json: json, command: "deploy")
            }
        }

        /// Announces the verdict (not for a dry run) and prints it, as text or one JSON object; throws
        /// the exit status of a verdict other than promoted or staged. Shared with `rollback --to`.
        static func finish(_ outcome: DeployOutcome, stack: Stack, dryRun: Bool, json: Bool, command: String,
                           extra: [String: Any?] = [:]) throws {
            if !dryRun { DeployAnnouncement.send(outcome, spec: stack.spec) { Terminal.stderr("\(command): " + $0) } }
            if json {
                JSONOutput.print(command, extra.merging([
                    "ok": outcome.result == .promoted || outcome.result == .staged || outcome.result == .planned,
                    "dry_run": dryRun, "result": outcome.result.rawValue, "target": outcome.target.rawValue,
                    "previous": outcome.previous.rawValue, "image": outcome.image, "release": outcome.release,
                    "reason": outcome.reason.isEmpty ? nil : outcome.reason, "figures": outcome.figures?.dictionary,
                    "total_ms": dryRun ? nil : JSONOutput.milliseconds(outcome.total),
                    "analysed_ms": dryRun ? nil : JSONOutput.milliseconds(outcome.analysed)]) { _, own in own })
                switch outcome.result {
                case .rolledBack: throw CLIError.exit(ExitStatus.rolledBack)
                case .rollbackFailed: throw CLIError.exit(ExitStatus.rollbackFailed)
                case .aborted: throw CLIError.exit(ExitStatus.aborted)
                case .promoted, .staged, .planned: return
                }
            }
            guard !dryRun else { return }
            switch outcome.result {
            case .staged, .planned:
                Terminal.stdout("\(command): \(outcome.reason)")
            case .promoted:
                Terminal.stdout("\(command): promoted \(outcome.release) on \(outcome.target.rawValue) in \(Int(outcome.total)) s (\(outcome.reason))")
            case .rolledBack:
                Terminal.stdout("\(command): rolled back to \(outcome.previous.rawValue) after \(String(format: "%.1f", outcome.analysed)) s of analysis: \(outcome.reason)")
                throw CLIError.exit(ExitStatus.rolledBack)
            case .aborted:
                Terminal.stdout("\(command): aborted: \(outcome.reason); \(outcome.previous.rawValue) is live")
                throw CLIError.exit(ExitStatus.aborted)
            case .rollbackFailed:
                Terminal.stderr(Terminal.style("error:", .red) + " \(outcome.reason)\nTraffic is on \(outcome.target.rawValue), the release that failed analysis. Act now: check `bgctl status`, then `bgctl switch \(outcome.previous.rawValue) --force` once \(outcome.previous.rawValue) is healthy.")
                throw CLIError.exit(ExitStatus.rollbackFailed)
            }
        }
    }
}
