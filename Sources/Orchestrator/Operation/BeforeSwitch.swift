import Foundation
import NginxConfigGen

/// Stands in when no docker CLI was set up (tests that do not script it): every command fails to start.
public struct NoContainerExec: ContainerExecuting {
    public init() {}

    public func run(_ argv: [String], in container: String, timeout: Double, cancelled: @escaping @Sendable () -> Bool,
                    line: (String) -> Void) -> ContainerExecOutcome {
        ContainerExecOutcome(run: HookOutcome(end: .launchFailed("no docker exec here"), tail: [], seconds: 0))
    }

    public func stopLeftovers(_ argv: [String], in container: String) -> String? { nil }
}

extension Stack {
    /// deploy.before_switch: runs each command in order inside `container` (the new release, healthy,
    /// serving no traffic), its output shown line by line with a prefix. All of them share `timeout`.
    /// A command that fails or runs out of time throws `beforeSwitchFailed`; a signal stops the command
    /// inside the container too and throws `cancelled`.
    func beforeSwitch(_ commands: [[String]], in container: String, timeout: Double) throws {
        let started = ports.clock.monotonic()
        for argv in commands {
            let shown = Self.shown(argv)
            let left = timeout - (ports.clock.monotonic() - started)
            guard left > 0 else {
                throw OrchestratorError.beforeSwitchFailed(command: shown, detail: "did not start: deploy.before_switch_timeout (\(Self.seconds(timeout))) was used up", tail: [])
            }
            report(.step("before_switch in \(container): \(shown)"))
            let outcome = ports.exec.run(argv, in: container, timeout: left, cancelled: ports.cancelled) { line in
                report(.detail("before_switch | \(line)"))
            }
            if let inside = outcome.stoppedInside { report(.warning("before_switch \(shown): \(inside)")) }
            switch outcome.run.end {
            case .exited(0):
                report(.done("before_switch \(shown) passed (\(String(format: "%.1f", outcome.run.seconds)) s)"))
                continue
            case .stopped:
                throw OrchestratorError.cancelled(step: "before-switch")
            case .timedOut:
                throw OrchestratorError.beforeSwitchFailed(command: shown, detail: "ran past deploy.before_switch_timeout (\(Self.seconds(timeout))) and was stopped", tail: outcome.run.tail)
            default:
                throw OrchestratorError.beforeSwitchFailed(command: shown, detail: outcome.run.summary, tail: outcome.run.tail)
            }
        }
    }

    /// Stops the before_switch commands a dead bgctl may have left running in `container`.
    func stopBeforeSwitchLeftovers(in container: String) {
        for argv in spec.deploy.beforeSwitch {
            guard let done = ports.exec.stopLeftovers(argv, in: container) else { continue }
            report(.warning("before_switch \(Self.shown(argv)): \(done)"))
            // A restart stopped everything in the container: once is enough.
            if done.hasPrefix("restarted") { return }
        }
    }

    static func shown(_ argv: [String]) -> String {
        let text = argv.joined(separator: " ")
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }

    static func seconds(_ value: Double) -> String {
        value.rounded() == value ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }
}
