import Foundation

/// The real runner: executes `docker` with an argv (never a shell), an allow-listed environment,
/// captured output capped at `outputLimit` bytes per stream, and a timeout after which the process is
/// terminated. Only failing to launch throws.
public struct ProcessRunner: CommandRunner {
    public static let allowedEnvironment = ["PATH", "HOME", "USER", "LANG", "LC_ALL", "TMPDIR", "XDG_RUNTIME_DIR",
                                            "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_TLS_VERIFY",
                                            "DOCKER_CERT_PATH", "DOCKER_API_VERSION", "SSH_AUTH_SOCK"]
    public let executable: String
    public let environment: [String: String]
    public let outputLimit: Int

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, outputLimit: Int = 4 << 20) throws {
        self.environment = environment.filter { Self.allowedEnvironment.contains($0.key) }
        self.outputLimit = outputLimit
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        guard let found = path.split(separator: ":").map({ "\($0)/docker" })
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw OrchestratorError.dockerUnavailable(detail: "the docker command is not installed (not found on PATH)")
        }
        self.executable = found
    }

    public func run(_ command: DockerCommand, timeout: Double) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = command.arguments
        process.environment = environment.merging(command.secretEnvironment) { _, secret in secret }
        process.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do {
            try process.run()
        } catch {
            throw OrchestratorError.launchFailed(command: command.description, reason: "\(error)")
        }
        let limit = outputLimit
        let group = DispatchGroup()
        let stdout = CappedBuffer(), stderr = CappedBuffer()
        for (pipe, buffer) in [(out, stdout), (err, stderr)] {
            group.enter()
            DispatchQueue.global().async {
                buffer.drain(pipe.fileHandleForReading, limit: limit)
                group.leave()
            }
        }
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            process.waitUntilExit()
            finished.signal()
        }
        var timedOut = false
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            process.terminate()
            if finished.wait(timeout: .now() + 2) == .timedOut {
                kill(process.processIdentifier, SIGKILL)
                finished.wait()
            }
        }
        group.wait()
        return CommandResult(status: process.terminationStatus, stdout: stdout.text, stderr: stderr.text, timedOut: timedOut)
    }
}

/// Collects a stream's bytes up to a limit and discards the rest, so a chatty command cannot exhaust memory.
private final class CappedBuffer: @unchecked Sendable {
    private var data = Data()
    private var dropped = 0

    func drain(_ handle: FileHandle, limit: Int) {
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            let room = max(0, limit - data.count)
            data.append(chunk.prefix(room))
            dropped += chunk.count - min(room, chunk.count)
        }
    }

    var text: String {
        let body = String(decoding: data, as: UTF8.self)
        return dropped > 0 ? body + "\n[\(dropped) more bytes not kept]" : body
    }
}
