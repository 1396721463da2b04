import Foundation
import Testing

/// What one run of the binary produced.
struct Outcome: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)---" }
}

/// The bgctl binary under test: $BGCTL_BIN, else .build/debug/bgctl of this package.
enum Binary {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var path: String {
        if let explicit = ProcessInfo.processInfo.environment["BGCTL_BIN"], !explicit.isEmpty { return explicit }
        return packageRoot.appendingPathComponent(".build/debug/bgctl").path
    }

    /// Where the path came from and how to fix it, for the failure when there is no binary.
    static var missingHint: String {
        if let explicit = ProcessInfo.processInfo.environment["BGCTL_BIN"], !explicit.isEmpty {
            return "no bgctl binary at \(explicit) (from BGCTL_BIN): build it or unset BGCTL_BIN"
        }
        return "no bgctl binary at \(path): run `swift build` first (`swift test` builds it too), or set BGCTL_BIN"
    }
}

/// A fresh temporary folder per test: `work` is the working directory, `bin` the whole PATH.
///
/// `bin` starts empty, so no test can reach a real docker; a test that wants one installs a fake.
final class Sandbox {
    let root: URL
    let work: URL
    let bin: URL
    /// Every invocation of a fake docker, one line of arguments each.
    let dockerLog: URL
    var stateDirectory: String { work.appendingPathComponent("state").path }
    var specPath: String { work.appendingPathComponent("bgctl.yaml").path }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("bgctl-cli-\(UUID().uuidString)")
        work = root.appendingPathComponent("work")
        bin = root.appendingPathComponent("bin")
        dockerLog = root.appendingPathComponent("docker.log")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: root)
    }

    /// Runs bgctl with `arguments` (no shell) in `work`, stdin at end of file, PATH and HOME only plus `environment`.
    ///
    /// A run that outlives `timeout` is killed and recorded as an issue. With `terminateAfter`, the run
    /// is sent SIGTERM after that many seconds, as a service manager stops a command that runs until stopped.
    func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 10, terminateAfter: Double? = nil,
             sourceLocation: SourceLocation = #_sourceLocation) throws -> Outcome {
        let binary = Binary.path
        try #require(FileManager.default.isExecutableFile(atPath: binary), "\(Binary.missingHint)", sourceLocation: sourceLocation)
        return try launch(binary, arguments, environment: environment, timeout: timeout, terminateAfter: terminateAfter,
                          sourceLocation: sourceLocation)
    }

    /// Where `script` (util-linux) is, which gives a command a pseudo-terminal; nil when it is not installed.
    static let script: String? = ["/usr/bin/script", "/bin/script"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs bgctl on a terminal (a pseudo-terminal made by `script`) with `input` typed on it.
    /// stdout and stderr both arrive in `stdout`, as a person sees them, with the terminal's CR LF line ends.
    func runOnTerminal(_ arguments: [String], input: String, environment: [String: String] = [:], timeout: Double = 10,
                       sourceLocation: SourceLocation = #_sourceLocation) throws -> Outcome {
        let binary = Binary.path
        try #require(FileManager.default.isExecutableFile(atPath: binary), "\(Binary.missingHint)", sourceLocation: sourceLocation)
        let script = try #require(Self.script, "no script(1) to make a terminal with", sourceLocation: sourceLocation)
        let quoted = ([binary] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let typed = root.appendingPathComponent("input-\(UUID().uuidString)")
        try Data(input.utf8).write(to: typed)
        // -e: script exits with the command's status; -q: no banner; the typescript goes nowhere.
        return try launch(script, ["-qec", quoted, "/dev/null"], environment: environment, stdin: typed, timeout: timeout,
                          sourceLocation: sourceLocation)
    }

    private func launch(_ executable: String, _ arguments: [String], environment: [String: String], stdin: URL? = nil,
                        timeout: Double, terminateAfter: Double? = nil, sourceLocation: SourceLocation) throws -> Outcome {
        // Output goes to files, not pipes: a child that fills a pipe nobody is reading would hang the test.
        let out = root.appendingPathComponent("stdout-\(UUID().uuidString)")
        let err = root.appendingPathComponent("stderr-\(UUID().uuidString)")
        try Data().write(to: out)
        try Data().write(to: err)
        let outHandle = try FileHandle(forWritingTo: out)
        let errHandle = try FileHandle(forWritingTo: err)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // The fake docker on PATH answers every engine call: none goes to a real engine's socket.
        process.environment = ["PATH": bin.path, "HOME": root.path, "BGCTL_DOCKER_API": "0"].merging(environment) { _, given in given }
        process.currentDirectoryURL = work
        let input = try stdin.map { try FileHandle(forReadingFrom: $0) }
        process.standardInput = input ?? FileHandle.nullDevice
        process.standardOutput = outHandle
        process.standardError = errHandle
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        if let terminateAfter, exited.wait(timeout: .now() + terminateAfter) == .timedOut {
            process.terminate()
        }
        if exited.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            if exited.wait(timeout: .now() + 2) == .timedOut {
                kill(process.processIdentifier, SIGKILL)
                exited.wait()
            }
            Issue.record("\(URL(fileURLWithPath: executable).lastPathComponent) \(arguments.joined(separator: " ")) did not finish within \(Int(timeout)) s", sourceLocation: sourceLocation)
        }
        try outHandle.close()
        try errHandle.close()
        try input?.close()
        let outcome = Outcome(status: process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus,
                              stdout: try String(contentsOf: out, encoding: .utf8),
                              stderr: try String(contentsOf: err, encoding: .utf8))
        if process.terminationReason == .uncaughtSignal {
            Issue.record("\(URL(fileURLWithPath: executable).lastPathComponent) \(arguments.joined(separator: " ")) died of signal \(process.terminationStatus)\n\(outcome)",
                         sourceLocation: sourceLocation)
        }
        return outcome
    }

    /// Writes `text` as the spec bgctl reads by default (bgctl.yaml in the working directory).
    func writeSpec(_ text: String) throws {
        try text.write(toFile: specPath, atomically: true, encoding: .utf8)
    }

    /// Writes the minimal valid spec; its state folder lies inside this sandbox.
    func writeMinimalSpec() throws {
        try writeSpec(MinimalSpec.lines(stateDirectory: stateDirectory).joined(separator: "\n") + "\n")
    }

    /// Installs `script` as `docker` on the sandbox's PATH; `$LOG` in it is replaced by the call log's path.
    func installFakeDocker(_ script: FakeDocker) throws {
        let path = bin.appendingPathComponent("docker").path
        try script.text.replacingOccurrences(of: "$LOG", with: dockerLog.path).write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    }

    /// The fake docker's invocations so far, one argument list per line.
    func dockerCalls() -> [String] {
        ((try? String(contentsOf: dockerLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func write(_ text: String, to name: String) throws -> String {
        let path = root.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// The smallest spec bgctl accepts, shaped like examples/demo/bgctl.yaml, with its own project name.
enum MinimalSpec {
    static let project = "bgctlclitest"

    static func lines(stateDirectory: String) -> [String] {
        [
            "version: 1",
            "project: \(project)",
            "pull: never",
            "proxy:",
            "  image: bgctl/nginx:local",
            "  listen: \"127.0.0.1:18080\"",
            "  connect_timeout: 1s",
            "  read_timeout: 3s",
            "app:",
            "  port: 3000",
            "  health: {path: /healthz, interval: 1s, timeout: 1s, retries: 3, start_period: 5s}",
            "pools:",
            "  blue:  {image: \"bgctl/demo-app:local\", release: cli-1, preview_port: 18081}",
            "  green: {image: \"bgctl/demo-app:local\", release: cli-2, preview_port: 18082}",
            "active: blue",
            "watch:",
            "  ignore_paths: [/healthz]",
            "state_dir: \"\(stateDirectory)\"",
        ]
    }
}

/// Shell scripts that stand in for the docker CLI (test fixtures: they print and exit, nothing else).
enum FakeDocker {
    /// The client is installed but the daemon does not answer, worded as the docker CLI words it.
    case daemonDown
    /// An engine that answers and has nothing of this project: no containers, no network.
    case emptyEngine
    /// An engine whose error text carries terminal escape sequences (as a hostile daemon or image could).
    case escapingEngine
    /// An engine running this project's two pools (healthy) and its proxy; it answers reads only.
    case runningStack
    /// A script a test writes for itself (`$LOG` is replaced as for the others).
    case script(String)

    var text: String {
        switch self {
        case .daemonDown:
            return """
            #!/bin/sh
            printf '%s\\n' "$*" >> '$LOG'
            echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2
            exit 1

            """
        case .emptyEngine:
            return """
            #!/bin/sh
            printf '%s\\n' "$*" >> '$LOG'
            case "$1 $2" in
              "version "*) echo 20.10.24; exit 0 ;;
              "container inspect") echo '[]'; echo "Error: No such container: $3" >&2; exit 1 ;;
              "network inspect") echo '[]'; echo "Error: No such network: $3" >&2; exit 1 ;;
            esac
            echo "fake docker: unscripted command: $*" >&2
            exit 1

            """
        case .runningStack:
            let containers = ["blue", "green", "proxy"].map { name in
                let health = name == "proxy" ? "" : #","Health":{"Status":"healthy","Log":[]}"#
                return #"{"Id":"id-\#(name)","Name":"/\#(MinimalSpec.project)-\#(name)","State":{"Status":"running","ExitCode":0,"Pid":0,"StartedAt":"2026-11-26T10:00:00.123456789Z"\#(health)},"Config":{"Image":"bgctl/demo-app:local","Labels":{"io.bgctl.project":"\#(MinimalSpec.project)"}}}"#
            }
            return """
            #!/bin/sh
            printf '%s\\n' "$*" >> '$LOG'
            case "$1 $2" in
              "version "*) echo 20.10.24; exit 0 ;;
              "container inspect") echo '[\(containers.joined(separator: ","))]'; exit 0 ;;
            esac
            echo "fake docker: unscripted command: $*" >&2
            exit 1

            """
        case .script(let text):
            return text
        case .escapingEngine:
            return """
            #!/bin/sh
            printf '%s\\n' "$*" >> '$LOG'
            printf 'Cannot connect to the Docker daemon \\033]0;pwned\\007\\033[2J at unix:///var/run/docker.sock\\n' >&2
            exit 1

            """
        }
    }
}

/// bgctl's own failures are one readable message, never a Foundation error dump or ArgumentParser's generic prefix.
func expectOwnMessage(_ outcome: Outcome, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(!outcome.stderr.contains("Error Domain="), "\(outcome)", sourceLocation: sourceLocation)
    #expect(!outcome.stderr.contains("Error: "), "\(outcome)", sourceLocation: sourceLocation)
}
