import ArgumentParser
import Foundation
import NginxConfigGen
import Orchestrator

extension Bgctl {
    struct Front: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The host's shared front (proxy.hosts): its container, addresses and projects.",
            discussion: """
            The front is the host's, not one project's: these commands read no spec. Its folder is
            \(FrontPlacement.defaultDirectory) and its container \(FrontPlacement.defaultContainer), unless
            BGCTL_FRONT_DIR and BGCTL_FRONT_NAME name others (as for every command of a project on it).

            Examples:
              bgctl front status
              bgctl front forget old-shop
            """,
            subcommands: [FrontStatus.self, FrontForget.self])

        @OptionGroup var output: OutputOptions
    }

    struct FrontStatus: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Show the shared front: its container, listen addresses, and each project's names, route, certificate and part.",
            discussion: """
            Exit status: 0 every project's part is installed and the front runs, 3 a problem is listed
            (a part missing or changed by hand, the front not running, a part nobody claims), 4 no front.

            Examples:
              bgctl front status
              bgctl front status --json | jq '.projects[] | {name, hosts, route}'
            """)

        @Flag(help: "Print one JSON object.") var json = false
        @OptionGroup var output: OutputOptions

        func run() throws {
            try reporting {
                let placement = FrontPlacement.from(environment: ProcessInfo.processInfo.environment)
                let environment = ProcessInfo.processInfo.environment
                let runner = try ProcessRunner(environment: environment)
                let engine = EngineSocket.local(environment: environment)
                let report = try FrontReport.read(placement) { name in
                    if let engine, let found = engine.inspect([name]) { return found[name] }
                    guard let result = try? runner.run(Docker.inspectContainers([name]), timeout: 30) else { return nil }
                    return ContainerInfo.parseInspect(result.stdout).first
                }
                let exists = report.state != "missing" || !report.projects.isEmpty
                if json {
                    let projects: [[String: Any]] = report.projects.map { project in
                        var entry: [String: Any] = ["name": project.name, "hosts": project.hosts, "route": project.route ?? NSNull(),
                                                    "part": project.part, "tls": project.tls]
                        entry["certificate_not_after"] = project.certificateNotAfter.map { Clock.iso($0) as Any } ?? NSNull()
                        return entry
                    }
                    JSONOutput.print("front status", ["ok": exists && report.problems.isEmpty, "directory": report.directory,
                                                      "container": report.container, "state": report.state, "listen": report.listen,
                                                      "tls_listen": report.tlsListen, "projects": projects,
                                                      "unclaimed": report.unclaimed, "problems": report.problems])
                } else if !exists {
                    Terminal.stdout("front: none (\(Terminal.field(report.directory)) holds no registry and \(Terminal.field(report.container)) does not exist)")
                } else {
                    Terminal.stdout("front \(Terminal.field(report.container)): \(report.state), listen \(report.listen ?? "-")"
                                    + (report.tlsListen.map { ", HTTPS \($0)" } ?? "") + " (\(Terminal.field(report.directory)))")
                    var rows = [["PROJECT", "HOSTS", "ROUTE", "PART", "CERTIFICATE"]]
                    for project in report.projects {
                        rows.append([Terminal.field(project.name), project.hosts.map(Terminal.field).joined(separator: ","),
                                     project.route ?? "none (down)", project.part,
                                     project.tls ? project.certificateNotAfter.map { "until " + CertificateInfo.format($0) } ?? "unreadable" : "-"])
                    }
                    let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
                    for row in rows {
                        Terminal.stdout(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                            .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
                    }
                    for problem in report.problems { Terminal.stdout("problem: " + Terminal.field(problem)) }
                }
                if !exists { throw CLIError.exit(ExitStatus.notServing) }
                if !report.problems.isEmpty { throw CLIError.exit(ExitStatus.degraded) }
            }
        }
    }

    struct FrontForget: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "forget",
            abstract: "Remove a project that is gone from the shared front: its names, route and part (no reload).",
            discussion: """
            For a project whose folder or spec is gone (renamed, deleted) and whose names now block another
            project. A project that is still there leaves with bgctl down. Its names answer 404 at once.

            Examples:
              bgctl front forget old-shop
            """)

        @Argument(help: "The project to forget.") var project: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            try reporting {
                guard Syntax.isProjectNameValue(project) else {
                    throw ValidationError("expected a project name (lowercase letters, digits, _ and -), found \(Terminal.field(project))")
                }
                let placement = FrontPlacement.from(environment: ProcessInfo.processInfo.environment)
                let forgotten = try FrontRegistry.forget(project, placement: placement, clock: .system)
                Terminal.stdout(forgotten ? "front forget: \(project) is off the shared front; its names answer 404"
                                          : "front forget: \(project) is not on the shared front; nothing to do")
            }
        }
    }
}
