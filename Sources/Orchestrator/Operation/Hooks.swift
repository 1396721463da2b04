import Foundation
import NginxConfigGen

/// What a hook is told about the operation, as BGCTL_* variables.
public struct HookContext: Sendable, Equatable {
    public var release: String?
    public var image: String?
    public var from: Pool?
    public var to: Pool?
    public var verdict: String?

    public init(release: String? = nil, image: String? = nil, from: Pool? = nil, to: Pool? = nil, verdict: String? = nil) {
        self.release = release
        self.image = image
        self.from = from
        self.to = to
        self.verdict = verdict
    }
}

extension Stack {
    /// The variables a hook gets: these and a few of the host's (PATH, HOME, USER, LANG, LC_ALL,
    /// TMPDIR); nothing of the spec's variables or `.env`, which may hold secrets.
    func hookEnvironment(_ point: HooksSpec.Point, _ context: HookContext) -> [String: String] {
        var environment = environment.filter { ["PATH", "HOME", "USER", "LANG", "LC_ALL", "TMPDIR"].contains($0.key) }
        if environment["PATH"] == nil { environment["PATH"] = "/usr/local/bin:/usr/bin:/bin" }
        environment["BGCTL_HOOK"] = point.rawValue
        environment["BGCTL_PROJECT"] = spec.project
        environment["BGCTL_RELEASE"] = context.release ?? ""
        environment["BGCTL_IMAGE"] = context.image ?? ""
        environment["BGCTL_FROM"] = context.from?.rawValue ?? ""
        environment["BGCTL_TO"] = context.to?.rawValue ?? ""
        environment["BGCTL_VERDICT"] = context.verdict ?? ""
        return environment
    }

    /// Runs the hook at `point`, if the spec has one (never for a dry run: the plan lists it). Its
    /// output is shown line by line, prefixed. A pre hook that fails throws `hookFailed` (nothing
    /// was changed yet); a post hook that fails is reported and recorded in the history, and what
    /// the operation did stands.
    func runHook(_ point: HooksSpec.Point, _ context: HookContext) throws {
        guard let argv = spec.hooks.commands[point] else { return }
        if let dryRun {
            dryRun(Plan(title: "hook \(point.rawValue)", steps: [Step("hook-\(point.rawValue)", "run \(argv.joined(separator: " ")) on the host (at most \(spec.hooks.timeout))", .warn(""))]))
            return
        }
        var command = argv
        if command[0].contains("/") && !command[0].hasPrefix("/") {
            command[0] = (specDirectory as NSString).appendingPathComponent(command[0])
        }
        report(.step("hook \(point.rawValue): \(argv.joined(separator: " "))"))
        let outcome = ports.hooks.run(command, environment: hookEnvironment(point, context), directory: specDirectory,
                                      timeout: spec.hooks.timeout.seconds, cancelled: ports.cancelled) { line in
            report(.detail("hook \(point.rawValue) | \(line)"))
        }
        if outcome.succeeded {
            report(.done("hook \(point.rawValue) passed (\(String(format: "%.1f", outcome.seconds)) s)"))
            return
        }
        let detail = "hook \(point.rawValue) \(outcome.summary)"
        if point.isPre { throw OrchestratorError.hookFailed(hook: point.rawValue, detail: outcome.summary, tail: outcome.tail) }
        report(.warning(detail + "; what the operation did stands"))
        var entry = HistoryEntry(time: ports.clock.timestamp(), action: "hook", who: who, result: "failed")
        entry.detail = ([detail] + outcome.tail.suffix(5)).joined(separator: "\n")
        try? store.append(entry)
    }

    /// The spec's folder: where hooks start and what their relative command paths are relative to.
    var specDirectory: String {
        specFile.map { ($0 as NSString).deletingLastPathComponent } ?? FileManager.default.currentDirectoryPath
    }
}
