import ArgumentParser
import Foundation
import NginxConfigGen
import Orchestrator
import Synchronization
import Watcher

/// Failures the CLI itself raises.
enum CLIError: Error {
    case failed(String)
    /// Ends the command with this status; the output already said why.
    case exit(Int32)
}

/// bgctl's exit statuses, listed in `bgctl --help` and the README.
enum ExitStatus {
    static let ok: Int32 = 0
    static let failed: Int32 = 1
    static let degraded: Int32 = 3
    static let notServing: Int32 = 4
    static let alertFired: Int32 = 5
    static let rolledBack: Int32 = 6
    static let rollbackFailed: Int32 = 7
    static let aborted: Int32 = 8
    /// `rollback --to`: the release's image is no longer on this host; nothing was changed.
    static let imageGone: Int32 = 9
    /// A pre hook (hooks.pre_deploy) failed: nothing was changed.
    static let hookFailed: Int32 = 10
    /// proxy.tls.acme got no certificate: `up` left the stack on plain HTTP, or `certs renew` failed.
    static let noCertificate: Int32 = 11
    /// A deploy.before_switch command failed or ran past its timeout: nothing was switched.
    static let beforeSwitchFailed: Int32 = 12
    /// A fleet switch left hosts serving different pools (or some not known): the table says which.
    static let fleetMixed: Int32 = 13
    static let usage: Int32 = 64
    static let invalidSpec: Int32 = 65
    /// The Docker engine is not available.
    static let dockerUnavailable: Int32 = 69

    static let help = """
        Exit status: 0 ok, 1 operation failed, 3 serving but degraded (status), 4 not serving (status),
        5 an alert fired (watch --fail-on-alert), 6 deploy rolled back, 7 rollback failed,
        8 stopped by a signal at a safe point, 9 the release's image is gone (rollback --to), 10 a pre hook failed,
        11 no certificate from ACME (up serves plain HTTP; certs renew failed),
        12 a before_switch command failed (deploy: not switched), 13 a fleet left mixed (switch), 64 usage error,
        65 invalid spec, 69 Docker unavailable.
        """
}

/// The one place where any failure becomes a message on stderr and an exit status.
enum Failure {
    /// What to print (nil: nothing more to say) and the status, for any error a command throws.
    static func report(_ error: Error) -> (message: String?, status: Int32) {
        switch error {
        case let error as CLIError:
            switch error {
            case .failed(let message): return ("error: " + message, ExitStatus.failed)
            case .exit(let code): return (nil, code)
            }
        case let error as SpecError:
            let count = error.problemCount
            return (error.description + "\n\(count) problem\(count == 1 ? "" : "s") in the spec", ExitStatus.invalidSpec)
        case let error as OrchestratorError:
            if case .cancelled = error { return ("bgctl: " + error.description, ExitStatus.aborted) }
            if case .releaseImageGone = error { return ("error: " + error.description, ExitStatus.imageGone) }
            if case .releaseUnknown = error { return ("error: " + error.description, ExitStatus.usage) }
            if case .releaseFlagsGone = error { return ("error: " + error.description, ExitStatus.usage) }
            if case .hookFailed = error { return ("error: " + error.description, ExitStatus.hookFailed) }
            if case .acmeFailed = error { return ("error: " + error.description, ExitStatus.noCertificate) }
            return ("error: " + error.description, error.isDockerUnavailable ? ExitStatus.dockerUnavailable : ExitStatus.failed)
        case let error as MetricsServerError:
            // Only a run with an end (--once, --for) that named --metrics-listen stops for this.
            return ("error: " + error.description, ExitStatus.failed)
        case let error as ValidationError:
            return ("error: " + error.message, ExitStatus.usage)
        case let error as WriteError:
            return ("error: " + error.description, ExitStatus.failed)
        case let error as RenderError:
            return ("error: " + error.description, ExitStatus.failed)
        case let error as ExitCode:
            return (nil, error.rawValue)
        default:
            // Never Foundation's "Error Domain=… Code=…": its localized text is what a person can read.
            return ("error: " + (error as NSError).localizedDescription, ExitStatus.failed)
        }
    }
}

extension ParsableCommand {
    /// Runs a command's body; every failure goes through `Failure.report`. With `json`, a failure also
    /// prints the error object on stdout (`{"schema": 1, "command": …, "ok": false, "error": {…}}`).
    func reporting(json: String? = nil, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch {
            let (message, status) = Failure.report(error)
            if let message {
                let clean = Terminal.safe(message)
                let text = clean.hasPrefix("error: ") ? Terminal.style("error:", .red) + clean.dropFirst(6) : clean
                Terminal.stderr(text)
            }
            if let json, !(error is CLIError), !(error is ExitCode) {
                let spec = error as? SpecError
                let text = message.map { $0.hasPrefix("error: ") ? String($0.dropFirst(7)) : $0 }
                JSONOutput.error(json, status: status, message: spec == nil ? text : "invalid spec",
                                 problems: spec?.issues ?? [], omitted: spec?.omitted ?? 0)
            }
            throw ExitCode(status)
        }
    }
}

/// Output helpers. Colour follows `--color`: `auto` (the default) colours a terminal, and not when
/// NO_COLOR is set and non-empty or TERM=dumb; `always` and `never` override both.
enum Terminal {
    enum Colour: String {
        case red = "31", green = "32", yellow = "33", blue = "34", bold = "1", dim = "2"
    }

    enum ColourMode: String, CaseIterable, ExpressibleByArgument {
        case auto, always, never
    }

    /// Set once from the parsed flags, read from any thread that prints (an index into `allCases`).
    private static let mode = Atomic<Int>(0)

    static func choose(_ choice: ColourMode) {
        mode.store(ColourMode.allCases.firstIndex(of: choice) ?? 0, ordering: .relaxed)
    }

    private static let colourAllowed: Bool = {
        let environment = ProcessInfo.processInfo.environment
        return (environment["NO_COLOR"] ?? "").isEmpty && environment["TERM"] != "dumb"
    }()
    static let stdinIsTTY = isatty(STDIN_FILENO) == 1
    private static let stdoutIsTTY = isatty(STDOUT_FILENO) == 1
    private static let stderrIsTTY = isatty(STDERR_FILENO) == 1

    /// Whether text for this stream is coloured.
    static func colours(stderr: Bool) -> Bool {
        switch ColourMode.allCases[mode.load(ordering: .relaxed)] {
        case .always: return true
        case .never: return false
        case .auto: return colourAllowed && (stderr ? stderrIsTTY : stdoutIsTTY)
        }
    }

    static func style(_ text: String, _ colour: Colour, stderr: Bool = true) -> String {
        colours(stderr: stderr) ? "\u{1B}[\(colour.rawValue)m\(text)\u{1B}[0m" : text
    }

    /// Asks `question` on stderr and reads one line: true only for y or yes (any case). End of input is no.
    static func confirm(_ question: String, read: () -> String? = { readLine(strippingNewline: true) }) -> Bool {
        FileHandle.standardError.write(Data(question.utf8))
        guard let answer = read() else {
            FileHandle.standardError.write(Data("\n".utf8))
            return false
        }
        return ["y", "yes"].contains(answer.trimmingCharacters(in: .whitespaces).lowercased())
    }

    static func stdout(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func stderr(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// One value from the audit trail or another writer (a --reason, USER, a lock holder, journal
    /// text, a release name) inside a line bgctl composes: every hidden scalar shown escaped, newline
    /// included, so the value stays on its line and cannot erase, forge or reorder what is shown.
    static func field(_ text: String) -> String { SafeText.terminal(text, limit: 1000) }

    /// JSON text on stdout: the same meaning, with hidden scalars escaped the JSON way.
    static func json(_ text: String) { stdout(SafeText.json(text)) }

    /// Text bgctl did not write itself (docker's stderr, container logs, health output, paths) made
    /// safe for a terminal: control characters and bidi overrides shown escaped, line by line.
    static func safe(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { SafeText.terminal(String($0).replacingOccurrences(of: "\t", with: "    ")) }
            .joined(separator: "\n")
    }
}
