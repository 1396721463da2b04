import Foundation
import NginxConfigGen

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
        var arguments = command.arguments
        var envFile: EnvFile?
        if let slot = arguments.firstIndex(of: DockerCommand.envFileToken) {
            let file = try EnvFile(command.secretEnvironment)
            arguments[slot] = file.path
            envFile = file
        }
        defer { envFile?.remove() }
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do {
            try process.run()
        } catch {
            throw OrchestratorError.launchFailed(command: command.description, reason: "\(error)")
        }
        // Both pipes are drained on this thread with poll(2): no helper threads, so a busy dispatch
        // pool can never delay a command (it did: nginx -t took a second under thread starvation).
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeout * 1e9)
        let stdout = CappedBuffer(limit: outputLimit), stderr = CappedBuffer(limit: outputLimit)
        var open: [(Int32, CappedBuffer)] = [(out.fileHandleForReading.fileDescriptor, stdout),
                                             (err.fileHandleForReading.fileDescriptor, stderr)]
        var timedOut = false
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while !open.isEmpty {
            let now = DispatchTime.now().uptimeNanoseconds
            if now >= deadline {
                timedOut = true
                break
            }
            var fds = open.map { pollfd(fd: $0.0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), Int32(min(1000, (deadline - now) / 1_000_000 + 1)))
            if ready < 0 && errno != EINTR { break }
            for (index, entry) in fds.enumerated().reversed() where entry.revents != 0 {
                let n = read(entry.fd, &chunk, chunk.count)
                if n > 0 {
                    open[index].1.append(chunk[0..<n])
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    open.remove(at: index)
                }
            }
        }
        if timedOut {
            process.terminate()
            let grace = DispatchTime.now().uptimeNanoseconds + 2_000_000_000
            while process.isRunning && DispatchTime.now().uptimeNanoseconds < grace { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        // Not waitUntilExit(): off the main thread it sleeps in 50 ms run-loop slices, which cost a
        // switch ~50 ms per docker command. Foundation reaps the child on its own queue; poll that.
        while process.isRunning { usleep(500) }
        return CommandResult(status: process.terminationStatus, stdout: stdout.text, stderr: stderr.text, timedOut: timedOut)
    }
}

extension ProcessRunner {
    /// `docker FIRST | docker SECOND` (an image saved here, loaded on another engine): the two
    /// processes joined by a pipe, no shell. The result is the second's, with the first's stderr added
    /// and its failure as the status when it failed; past `timeout` both are killed.
    public func pipe(_ first: DockerCommand, into second: DockerCommand, timeout: Double) throws -> CommandResult {
        let source = Process(), sink = Process()
        source.executableURL = URL(fileURLWithPath: executable)
        sink.executableURL = URL(fileURLWithPath: executable)
        source.arguments = first.arguments
        sink.arguments = second.arguments
        source.environment = environment
        sink.environment = environment
        let joint = Pipe(), sourceErr = Pipe(), sinkOut = Pipe(), sinkErr = Pipe()
        source.standardInput = FileHandle.nullDevice
        source.standardOutput = joint
        source.standardError = sourceErr
        sink.standardInput = joint
        sink.standardOutput = sinkOut
        sink.standardError = sinkErr
        do {
            try sink.run()
            try source.run()
        } catch {
            if sink.isRunning { sink.terminate() }
            throw OrchestratorError.launchFailed(command: first.description + " | " + second.description, reason: "\(error)")
        }
        // Only the processes hold the joint now.
        try? joint.fileHandleForReading.close()
        try? joint.fileHandleForWriting.close()
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(1, min(timeout, 86_400)) * 1e9)
        var timedOut = false
        while source.isRunning || sink.isRunning {
            if DispatchTime.now().uptimeNanoseconds > deadline {
                timedOut = true
                [source, sink].filter(\.isRunning).forEach { kill($0.processIdentifier, SIGKILL) }
            }
            usleep(5_000)
        }
        func text(_ pipe: Pipe) -> String {
            String(decoding: (try? pipe.fileHandleForReading.readToEnd())?.prefix(outputLimit) ?? Data(), as: UTF8.self)
        }
        let errors = text(sourceErr) + text(sinkErr)
        let status = source.terminationStatus != 0 ? source.terminationStatus : sink.terminationStatus
        return CommandResult(status: status, stdout: text(sinkOut), stderr: errors, timedOut: timedOut)
    }
}

/// A container's environment for `docker run --env-file`: a 0600 file in a fresh 0700 folder (mkdtemp),
/// created exclusively, removed after the run. Docker reads each line as NAME=VALUE, the value to the
/// end of the line, no quoting: names are POSIX and values hold no newline (the spec loader refuses them).
private struct EnvFile {
    let folder: String
    let path: String

    init(_ environment: [String: String]) throws {
        var template = Array((FileManager.default.temporaryDirectory.path + "/bgctl-env.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw OrchestratorError.launchFailed(command: "docker run", reason: "cannot create a private folder for the env file: \(String(cString: strerror(errno)))")
        }
        folder = String(cString: made)
        path = folder + "/env"
        var text = ""
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) {
            guard Syntax.isEnvironmentValue(value) else {
                rmdir(folder)
                throw OrchestratorError.launchFailed(command: "docker run", reason: "the value of \(name) holds a line break or NUL, which an env file cannot carry")
            }
            text += "\(name)=\(value)\n"
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            rmdir(folder)
            throw OrchestratorError.launchFailed(command: "docker run", reason: "cannot create the env file: \(String(cString: strerror(errno)))")
        }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count else {
            unlink(path)
            rmdir(folder)
            throw OrchestratorError.launchFailed(command: "docker run", reason: "cannot write the env file")
        }
    }

    func remove() {
        unlink(path)
        rmdir(folder)
    }
}

/// Collects a stream's bytes up to a limit and discards the rest, so a chatty command cannot exhaust memory.
private final class CappedBuffer {
    private let limit: Int
    private var data = Data()
    private var dropped = 0

    init(limit: Int) {
        self.limit = limit
    }

    func append(_ chunk: ArraySlice<UInt8>) {
        let room = max(0, limit - data.count)
        data.append(contentsOf: chunk.prefix(room))
        dropped += chunk.count - min(room, chunk.count)
    }

    var text: String {
        let body = String(decoding: data, as: UTF8.self)
        return dropped > 0 ? body + "\n[\(dropped) more bytes not kept]" : body
    }
}
