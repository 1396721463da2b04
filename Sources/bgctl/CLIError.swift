import ArgumentParser
import Foundation
import NginxConfigGen

/// The one place where failures become messages and exit statuses.
enum CLIError: Error {
    case invalidSpec(SpecError)
    case failed(String)
    case dockerUnavailable(String)
    case exit(Int32)

    var exitCode: Int32 {
        switch self {
        case .invalidSpec: return ExitStatus.invalidSpec
        case .failed: return ExitStatus.failed
        case .dockerUnavailable: return ExitStatus.dockerUnavailable
        case .exit(let code): return code
        }
    }
}

enum ExitStatus {
    static let ok: Int32 = 0
    static let failed: Int32 = 1
    static let degraded: Int32 = 3
    static let notServing: Int32 = 4
    static let alertFired: Int32 = 5
    static let rolledBack: Int32 = 6
    static let rollbackFailed: Int32 = 7
    static let usage: Int32 = 64
    static let invalidSpec: Int32 = 65
    static let dockerUnavailable: Int32 = 69
}

extension ParsableCommand {
    /// Runs `body`, printing any failure to stderr and exiting with its status.
    func reporting(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as CLIError {
            switch error {
            case .invalidSpec(let spec):
                Terminal.stderr(spec.issues.map(\.description).joined(separator: "\n"))
                let count = spec.issues.count
                Terminal.stderr("\(count) problem\(count == 1 ? "" : "s") in the spec")
            case .failed(let message), .dockerUnavailable(let message):
                Terminal.stderr(Terminal.style("error:", .red) + " " + message)
            case .exit:
                break
            }
            throw ExitCode(error.exitCode)
        } catch let error as ExitCode {
            throw error
        } catch let error as RenderError {
            Terminal.stderr(Terminal.style("error:", .red) + " \(error)")
            throw ExitCode(ExitStatus.failed)
        } catch let error as WriteError {
            Terminal.stderr(Terminal.style("error:", .red) + " \(error)")
            throw ExitCode(ExitStatus.failed)
        }
    }
}

/// Output helpers: colour only when the stream is a terminal and NO_COLOR is unset.
enum Terminal {
    enum Colour: String {
        case red = "31", green = "32", yellow = "33", blue = "34", bold = "1", dim = "2"
    }

    static let stdoutIsTTY = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    static let stderrIsTTY = isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil

    static func style(_ text: String, _ colour: Colour, stderr: Bool = true) -> String {
        (stderr ? stderrIsTTY : stdoutIsTTY) ? "\u{1B}[\(colour.rawValue)m\(text)\u{1B}[0m" : text
    }

    static func stdout(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func stderr(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
