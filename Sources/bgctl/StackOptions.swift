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

    func lockWaitSeconds() throws -> Double {
        try DurationFlag.seconds(lockWait, flag: "--lock-wait", positive: false)
    }

    func stack() throws -> Stack {
        let written = try spec.load()
        let paths = StackPaths(spec: written, specDirectory: spec.directory)
        // Pools a deploy changed run the deployed release, not the spec's.
        let state = try StateStore.load(paths)
        let loaded = state?.apply(to: written) ?? written
        let environment = ProcessInfo.processInfo.environment
        let runner: CommandRunner
        do {
            runner = try ProcessRunner(environment: environment)
        } catch let error as OrchestratorError {
            throw CLIError.dockerUnavailable(error.description)
        }
        var stack = Stack(spec: loaded, paths: paths, runner: runner,
                          http: HTTPClient(), renderer: try spec.renderer(), environment: environment,
                          report: ProgressPrinter.report)
        stack.specFile = StackPaths.absolute(spec.path)
        return stack
    }
}

enum DurationFlag {
    /// A flag's duration in seconds; `positive` rejects zero.
    static func seconds(_ text: String, flag: String, positive: Bool = true) throws -> Double {
        guard let duration = SpecDuration(parsing: text), !positive || duration.milliseconds > 0 else {
            throw ValidationError("\(flag): expected a duration such as 30s, found \"\(text)\"")
        }
        return duration.seconds
    }
}

enum ProgressPrinter {
    @Sendable static func report(_ progress: StackEvent) {
        switch progress {
        case .step(let text): Terminal.stderr(Terminal.style("→", .blue) + " " + text)
        case .detail(let text): Terminal.stderr("  " + text)
        case .waiting(let text): Terminal.stderr(Terminal.style("…", .dim) + " " + text)
        case .warning(let text): Terminal.stderr(Terminal.style("!", .yellow) + " " + text)
        case .done(let text): Terminal.stderr(Terminal.style("✓", .green) + " " + text)
        }
    }
}

extension ParsableCommand {
    /// Runs an orchestrator operation, turning its errors into the documented exit statuses.
    func orchestrating(_ body: () async throws -> Void) async throws {
        try await reporting {
            do {
                try await body()
            } catch let error as OrchestratorError {
                throw error.isDockerUnavailable ? CLIError.dockerUnavailable(error.description) : CLIError.failed(error.description)
            }
        }
    }
}
