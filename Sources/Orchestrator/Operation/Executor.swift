import Foundation
import NginxConfigGen

/// What running a plan found, for the caller that ran it.
struct PlanRun: Sendable {
    /// Seconds per step that ran, in order.
    var timings: [(String, Double)] = []
    /// What each `removeImage` step found, in order.
    var removals: [ImageRemoval] = []
}

/// Runs a plan's steps, in order: the safe points, the journal, and the restore. Each step's action
/// lives beside the port it uses (`DockerSteps`, `FileSteps`, `ProxySteps`, `HTTPWaits`); the
/// analyses beside their policies (`ReleaseAnalysis`, `CanaryAnalysis`), run by `judge`, which returns
/// the verdict. A failure after `install` or `route` puts the previous configuration and route back
/// (and reloads) before the error is thrown, so traffic never stays on an unchecked configuration.
final class Executor {
    let stack: Stack
    /// Monotonic start of the operation: history durations count from here.
    let started: Double
    /// Written before each step acts; nil for sub-steps of `together` (their group is journaled).
    var journal: JournalWriter?
    /// False for a restore or a rollback: once started, a signal does not cut it short.
    var cancellable: Bool
    private var found = PlanRun()
    /// Set by `install`, cleared by `record`: what a later failure restores.
    private var restorePoint: (files: [String: String], proxy: ContainerInfo)?
    /// Set by `linkTLS`, cleared by `record`: the link's target before (nil inside: there was none).
    private var linkRestore: String??
    /// Set by `setRoute`, cleared by `record`: the route a later failure sets again (nil inside: there
    /// was none to go back to).
    private var routeRestore: Route??

    init(stack: Stack, started: Double, journal: JournalWriter? = nil, cancellable: Bool = true) {
        self.stack = stack
        self.started = started
        self.journal = journal
        self.cancellable = cancellable
    }

    private var ports: Ports { stack.ports }
    private var paths: StackPaths { stack.paths }

    @discardableResult
    func run(_ plan: Plan) throws -> PlanRun {
        do {
            for step in plan.steps { try run(step) }
        } catch {
            // A candidate that was staged but never installed is no one's configuration.
            if ports.files.exists(paths.nextDir) { try? ports.files.remove(paths.nextDir) }
            throw error
        }
        return found
    }

    func run(_ step: Step) throws {
        try act(step) { try perform(step) }
    }

    /// Runs a deploy's analysis as a step (journaled; a signal ends it as aborted) and returns its verdict.
    func judge(_ analysis: ReleaseAnalysis, log: AccessLogReading) throws -> (verdict: ReleaseVerdict, figures: AnalysisFigures) {
        try act(analysis.step) { analysis.run(log, on: stack) }
    }

    /// Runs one canary step's analysis as a step and returns its verdict.
    func judge(_ analysis: CanaryAnalysis, log: AccessLogReading) throws -> CanaryStepVerdict {
        try act(analysis.step) { analysis.run(log, on: stack) }
    }

    static func describe(_ error: Error) -> String {
        String(describing: error)
    }

    /// Between installing a configuration and recording it, a signal is not a safe point.
    private var atSafePoint: Bool { cancellable && restorePoint == nil && routeRestore == nil && linkRestore == nil }

    /// One step: the safe point before it, the journal, its timing, and the restore when it fails.
    private func act<T>(_ step: Step, _ body: () throws -> T) throws -> T {
        if atSafePoint && ports.cancelled() { throw OrchestratorError.cancelled(step: step.name) }
        try journal?.starting(step)
        let begin = ports.clock.monotonic()
        let result: T
        do {
            result = try body()
        } catch {
            if restorePoint != nil || routeRestore != nil || linkRestore != nil {
                let restored = restore()
                throw OrchestratorError.switchFailed(step: step.name, detail: Self.describe(error), restored: restored)
            }
            throw error
        }
        found.timings.append((step.name, ports.clock.monotonic() - begin))
        return result
    }

    private func perform(_ step: Step) throws {
        if step.action.isAnnounced { stack.report(.step(step.description)) }
        switch step.action {
        case .createNetwork(let name, let subnet, let project):
            try stack.createNetwork(name, subnet: subnet, project: project)
        case .removeNetwork:
            try stack.runCommands(of: step.action, doing: "removing the network")
        case .createDirectories(let folders):
            for folder in folders { try ports.files.createDirectory(folder) }
        case .runContainer(let config):
            try stack.runContainer(config, doing: step.description)
        case .startContainer(let name):
            try stack.require(Docker.start(name), doing: step.description, container: name)
        case .stopContainer(_, let timeout):
            try stack.runCommands(of: step.action, doing: step.description, timeout: Double(timeout + 30))
        case .removeContainer(let name):
            try stack.removeContainer(name, doing: step.description)
        case .together(let steps):
            try together(steps)
        case .sequence(let steps):
            for inner in steps { try run(inner) }
        case .waitHealthy(let required, let optional):
            try stack.waitHealthy(required: required, optional: optional, interruptible: atSafePoint)
        case .smokeChecks(let pool):
            try stack.smokeChecks(pool)
        case .drain(let pool):
            stack.report(.done(stack.drain(pool, interruptible: atSafePoint)))
        case .writeConfig(let config):
            try stack.write(config, into: paths.nginxDir)
        case .writeTLS(let material):
            try stack.writeTLS(material)
        case .pruneTLS(let keep):
            stack.pruneTLS(keep: keep)
        case .linkTLS(let fingerprint):
            if linkRestore == nil { linkRestore = .some(ports.files.readLink(paths.tlsLink)) }
            try stack.linkTLS(fingerprint)
        case .stageConfig(let config):
            try stack.stage(config)
        case .testConfig:
            try stack.testCandidate()
        case .installConfig(let config, let proxy):
            restorePoint = (stack.currentFiles(), proxy)
            try stack.install(config)
        case .reload(let proxy):
            try stack.reload(proxy)
        case .setRoute(let route):
            if routeRestore == nil { routeRestore = .some(stack.readRoute().route) }
            try stack.installRoute(route)
        case .writeRoute(let route):
            try stack.installRoute(route)
        case .verify(let pool):
            try stack.verify(pool)
        case .verifyPools(let pools):
            try stack.verify(pools)
        case .waitProxy(let pool):
            try stack.waitProxy(pool, interruptible: atSafePoint)
        case .rememberTested(let config, let proxy):
            try stack.rememberTested(config, by: proxy)
        case .analyse, .analyseCanary:
            // Listed for a dry run; a run that acts on the verdict calls `judge`, which returns it.
            stack.report(.warning("\(step.name): an analysis inside a plan has no one to act on its verdict; skipped"))
        case .record(let record):
            try stack.record(record, started: started)
            restorePoint = nil
            routeRestore = nil
            linkRestore = nil
        case .removeFiles(let files):
            for path in files { try ports.files.remove(path) }
        case .removeFolderIfEmpty(let folder):
            try stack.removeFolderIfEmpty(folder)
        case .removeImage(let image, let bytes):
            found.removals.append(try stack.removeImage(image, bytes: bytes))
        case .beforeSwitch(let container, let commands, let timeout):
            try stack.beforeSwitch(commands, in: container, timeout: timeout)
        case .warn(let text):
            stack.report(.warning(text))
        case .connectNetwork(let network, let container, let required):
            if required {
                try stack.require(Docker.connectNetwork(network, container), doing: step.description, container: container)
            } else if let result = try? stack.ports.runner.run(Docker.connectNetwork(network, container), timeout: 30), !result.succeeded {
                stack.report(.warning("could not attach the front to \(network): \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines).prefix(300))"))
            }
        case .disconnectNetwork:
            // Best effort: a front that already left (or a network already gone) is what was wanted.
            _ = try? stack.ports.runner.run(step.action.commands(stack.spec)[0], timeout: 30)
        case .writeFrontWrapper(let text):
            try stack.writeFrontWrapper(text)
        case .claimFront:
            try stack.claimFront()
        case .releaseFront:
            try stack.releaseFront()
        case .leaveFront:
            try stack.leaveFront()
        }
    }

    /// Runs steps at the same time, each with its own executor; the first failure is thrown once all finished.
    private func together(_ steps: [Step]) throws {
        let stack = self.stack, started = self.started, cancellable = self.cancellable
        // Docker commands wait on the engine, not the CPU: all at once (stopping 40 workers is one stop timeout).
        let results = Parallel.threads(steps) { step in
            Result { try Executor(stack: stack, started: started, cancellable: cancellable).run(step) }
        }
        for result in results { try result.get() }
    }

    /// Puts back the route and the files that were live before (the route first: it moves traffic at
    /// once) and reloads when the files changed; true when all of it took.
    private func restore() -> Bool {
        var restored = true
        if let previous = linkRestore {
            linkRestore = nil
            do {
                if let previous { try stack.linkTLS(previous) } else { try ports.files.remove(paths.tlsLink) }
            } catch {
                restored = false
            }
        }
        if let previous = routeRestore {
            routeRestore = nil
            if let previous {
                do { try stack.installRoute(previous) } catch { restored = false }
            }
        }
        if let point = restorePoint {
            restorePoint = nil
            // Behind the shared front, a project that had no part before goes back to having none.
            guard !point.files.isEmpty || stack.front != nil else { return false }
            do {
                if point.files.isEmpty {
                    try stack.leaveFront()
                    // Its names were claimed for this join: a part that never served claims nothing.
                    try? stack.releaseFront()
                } else {
                    try stack.write(RenderedConfig(files: point.files), into: paths.nginxDir)
                    try stack.reload(point.proxy)
                }
            } catch {
                stack.report(.warning("could not restore the previous configuration: \(Self.describe(error))"))
                return false
            }
        }
        stack.report(.warning("restored the previous \(restored ? "route and configuration" : "configuration; the route could not be set back")"))
        return restored
    }
}
