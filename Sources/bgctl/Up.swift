import ArgumentParser
import Foundation
import NginxConfigGen
import Orchestrator

extension Bgctl {
    struct Up: ParsableCommand, PlanningCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or update the stack: network, blue and green, then the nginx proxy.",
            discussion: """
            Unchanged parts are left alone. The live pool's container is never recreated while it is live.

            Examples:
              bgctl up
              bgctl up --dry-run
              bgctl up --pull never --timeout 2m
            """)

        @OptionGroup var options: StackOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Image pull policy: missing, always or never (default: the spec's `pull`).") var pull: PullPolicy?
        @Option(help: ArgumentHelp("Give up waiting for health after this long (default: from app.health).", valueName: "DURATION"),
                transform: WaitDuration.parse)
        var timeout: WaitDuration?
        @Flag(help: "Print the plan (steps and docker commands) and change nothing.") var dryRun = false
        @Flag(help: "Print the result as one JSON object (schema 1, see the README).") var json = false

        func run() throws {
            mode.begin()
            try reporting(json: json ? "up" : nil) {
                let (fleet, written) = try options.fleetOrSpec()
                if let fleet {
                    if dryRun {
                        guard !json else { throw ValidationError("--json with --dry-run: on a fleet the plans are each host's text") }
                        return try FleetCommands.dryRun(fleet, ["up"], note: "each plan is of the spec up last copied to that host (up copies this one first, "
                                                        + "with the images a host lacks, and starts \(fleet.agentName) where it is missing)")
                    }
                    return try FleetCommands.up(fleet, json: json)
                }
                var stack = try options.stack(mode, written: written, checkTLS: true)
                if let pull { stack.pull = pull }
                if let timeout { stack.healthTimeout = timeout.seconds }
                let summary = try stack.up(lockWait: options.lockWaitSeconds())
                if json {
                    JSONOutput.print("up", ["ok": true, "dry_run": dryRun, "project": stack.spec.project, "live": summary.live.rawValue,
                                            "changed": summary.changed, "steps": JSONOutput.steps(summary.plan),
                                            "listen": stack.spec.proxy.listen.description,
                                            "tls_listen": stack.spec.proxy.tls.map { $0.listen.description } ?? NSNull(),
                                            "certificate": summary.certificate.map(Certs.json) ?? NSNull()])
                    return
                }
                guard !dryRun else { return }
                if let certificate = summary.certificate, let line = Certs.line(certificate) { Terminal.stdout("up: " + line) }
                let https = stack.spec.proxy.tls.flatMap { tls in
                    tls.acme == nil || summary.certificate?.notAfter != nil ? " and https on \(tls.listen)" : nil
                }
                let listen = "\(stack.spec.proxy.listen)" + (https ?? "")
                Terminal.stdout(summary.changed ? "up: \(stack.spec.project) is serving \(summary.live.rawValue) on \(listen)"
                                                : "up: nothing to change; \(stack.spec.project) is serving \(summary.live.rawValue) on \(listen)")
            }
        }
    }
}

extension PullPolicy: ExpressibleByArgument {}
