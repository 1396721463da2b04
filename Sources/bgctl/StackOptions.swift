import ArgumentParser
import Foundation
import HTTPClient
import NginxConfigGen
import Orchestrator

/// Options of every command that acts on the running stack.
struct StackOptions: ParsableArguments {
    @OptionGroup var spec: SpecOptions

    static let defaultLockWait = WaitDuration(checked: .seconds(60))

    // With a transform argument-parser shows no default: the help says it.
    @Option(help: ArgumentHelp("How long to wait for another bgctl operation's lock, e.g. 30s (default: \(Int(defaultLockWait.seconds))s).",
                               valueName: "DURATION"), transform: WaitDuration.parse)
    var lockWait = defaultLockWait

    func lockWaitSeconds() -> Double { lockWait.seconds }

    /// The stack as it runs: the spec with deployed releases applied, the real ports, and for a dry run
    /// (`mode`) the plan printer instead of the executor. `written`: the spec when the command has
    /// already loaded it (each warning is printed once). `checkTLS`: proxy.tls's files are read and
    /// checked with the spec, before Docker is touched, and handed to the stack (`up`). Signals are the
    /// command's to install (`RunMode.begin`): the stack only reads the flag.
    func stack(_ mode: RunMode = .live, written: DeploymentSpec? = nil, checkTLS: Bool = false) throws -> Stack {
        let written = try written ?? spec.load()
        if written.fleet != nil {
            throw CLIError.failed("this command does not drive a fleet (the spec lists hosts) yet: on a fleet, up, switch, deploy (blue-green), rollback, recover, status, watch, down and their --dry-run work; "
                                  + "for the rest, run bgctl in one host's agent (docker exec -e BGCTL_FLEET_HOST=NAME \(written.project)-agent /usr/local/bin/bgctl …)")
        }
        var warnings: [SpecIssue] = []
        let tls = checkTLS ? try spec.checkedTLS(written, warnings: &warnings) : nil
        let paths = StackPaths(spec: written, specDirectory: spec.directory)
        // Pools a deploy changed run the deployed release, not the spec's.
        let state = try StateStore(paths: paths).load()
        let loaded = state?.apply(to: written) ?? written
        let environment = ProcessInfo.processInfo.environment
        let runner = try ProcessRunner(environment: environment)
        var ports = Ports(runner: runner, http: HTTPClient(resolve: Stack.frontResolve(written)),
                          accessLog: TailedAccessLog.opener(loaded), cancelled: { StopSignal.requested })
        let engine = EngineSocket.local(environment: environment)
        ports.engine = engine
        ports.exec = DockerExec(runner: runner, engine: engine)
        var stack = Stack(spec: loaded, paths: paths, ports: ports, renderer: try spec.renderer(for: loaded), environment: environment,
                          report: ProgressPrinter.report)
        stack.specFile = StackPaths.absolute(spec.path)
        stack.writtenSpec = written
        stack.tls = tls
        stack.acmeCAFile = written.proxy.tls?.acme?.caFile.map { TLSSpec.resolve($0, in: spec.directory) }
        stack.events = EngineSocket.eventsSource(environment: environment)
        stack.dryRun = mode.planPrinter(loaded)
        if let interrupted = stack.journal.interrupted() {
            ProgressPrinter.report(.warning(Terminal.field(interrupted.summary) + "; the next mutating command (or bgctl recover) finishes or undoes it"))
        }
        return stack
    }
}

extension StackOptions {
    /// The spec as written, and the fleet when it lists hosts (and this is not one host's agent).
    func fleetOrSpec() throws -> (fleet: Fleet?, written: DeploymentSpec) {
        let written = try spec.load()
        return (try fleet(written), written)
    }

    func fleet(_ written: DeploymentSpec) throws -> Fleet? { try Self.fleet(written, spec: spec) }

    static func fleet(_ written: DeploymentSpec, spec: SpecOptions) throws -> Fleet? {
        guard written.fleet != nil else { return nil }
        guard let text = FileManager.default.contents(atPath: spec.path) else { throw CLIError.failed("cannot read \(Terminal.safe(spec.path))") }
        var environment = ProcessInfo.processInfo.environment
        // ssh:// hosts: one shared connection per host (see SSHMultiplex).
        if written.fleet!.hosts.contains(where: \.isSSH) { environment = try SSHMultiplex.prepare(environment) }
        var fleet = Fleet(spec: written, specText: text, runner: try ProcessRunner(environment: environment),
                          report: ProgressPrinter.report)
        fleet.cancelled = { StopSignal.requested }
        return fleet
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
