import ArgumentParser
import Foundation
import HTTPClient
import NginxConfigGen
import Orchestrator

/// Options of every command that acts on the running stack.
struct StackOptions: ParsableArguments {
    @OptionGroup var spec: SpecOptions

    @Option(help: ArgumentHelp("How long to wait for another bgctl operation's lock, e.g. 30s.", valueName: "DURATION"))
    var lockWait: String = "60s"

    /// Flags are checked before the spec or Docker is touched: a usage error is exit 64 whatever else is wrong.
    func validate() throws {
        _ = try lockWaitSeconds()
    }

    func lockWaitSeconds() throws -> Double {
        try DurationFlag.seconds(lockWait, flag: "--lock-wait", positive: false)
    }

    /// The stack as it runs: the spec with deployed releases applied, the real ports, and with
    /// `dryRun` the plan printer instead of the executor.
    /// `interruptible`: SIGINT, SIGTERM and SIGHUP stop the operation at its next safe point
    /// instead of killing bgctl (mutating commands). `checkTLS`: proxy.tls's files are read and
    /// checked with the spec, before Docker is touched, and handed to the stack (`up`).
    func stack(dryRun: Bool = false, interruptible: Bool = true, checkTLS: Bool = false) throws -> Stack {
        let written = try spec.load()
        var warnings: [SpecIssue] = []
        let tls = checkTLS ? try spec.checkedTLS(written, warnings: &warnings) : nil
        let paths = StackPaths(spec: written, specDirectory: spec.directory)
        // Pools a deploy changed run the deployed release, not the spec's.
        let state = try StateStore(paths: paths).load()
        let loaded = state?.apply(to: written) ?? written
        let environment = ProcessInfo.processInfo.environment
        if interruptible && !dryRun { Cancellation.install() }
        let ports = Ports(runner: try ProcessRunner(environment: environment), http: HTTPClient(),
                          accessLog: TailedAccessLog.opener(loaded), cancelled: { Cancellation.requested })
        var stack = Stack(spec: loaded, paths: paths, ports: ports, renderer: try spec.renderer(for: loaded), environment: environment,
                          report: ProgressPrinter.report)
        stack.specFile = StackPaths.absolute(spec.path)
        stack.tls = tls
        if dryRun {
            stack.dryRun = { plan in plan.listing(loaded).forEach(Terminal.stdout) }
        }
        if let interrupted = stack.journal.interrupted() {
            ProgressPrinter.report(.warning(Terminal.field(interrupted.summary) + "; the next mutating command (or bgctl recover) finishes or undoes it"))
        }
        return stack
    }
}

enum DurationFlag {
    /// A flag's duration in seconds; `positive` rejects zero.
    static func seconds(_ text: String, flag: String, positive: Bool = true) throws -> Double {
        guard let duration = SpecDuration(parsing: text), !positive || duration.milliseconds > 0 else {
            throw ValidationError("\(flag): expected a duration such as 30s (at most 30 days), found \"\(text.prefix(40))\"")
        }
        return duration.seconds
    }
}

enum ProgressPrinter {
    @Sendable static func report(_ progress: StackEvent) {
        switch progress {
        case .step(let text): Terminal.stderr(Terminal.style("→", .blue) + " " + Terminal.safe(text))
        case .detail(let text): Terminal.stderr("  " + Terminal.safe(text))
        case .waiting(let text): Terminal.stderr(Terminal.style("…", .dim) + " " + Terminal.safe(text))
        case .warning(let text): Terminal.stderr(Terminal.style("!", .yellow) + " " + Terminal.safe(text))
        case .done(let text): Terminal.stderr(Terminal.style("✓", .green) + " " + Terminal.safe(text))
        }
    }
}
