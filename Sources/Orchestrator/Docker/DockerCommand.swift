/// One docker CLI invocation as a value: argv after `docker`, plus the container's environment, which
/// the runner writes to a private env file (mode 0600 in a 0700 folder, removed after the run) named
/// where `envFileToken` stands. Container values never reach argv, printed output or the docker
/// client's own environment (where `LD_PRELOAD`, `DOCKER_HOST` … would act on the host).
public struct DockerCommand: Sendable, Equatable, CustomStringConvertible {
    /// Stands in argv for the env file's path until the runner writes the file.
    public static let envFileToken = "<env-file>"

    public let arguments: [String]
    /// The container's environment, for the env file; never printed.
    public let secretEnvironment: [String: String]

    public init(_ arguments: [String], secretEnvironment: [String: String] = [:]) {
        self.arguments = arguments
        self.secretEnvironment = secretEnvironment
    }

    /// The command as a person would type it, shell-quoted; environment values are not shown.
    public var description: String {
        (["docker"] + arguments).map(Self.shellQuoted).joined(separator: " ")
    }

    static func shellQuoted(_ word: String) -> String {
        let safe = word.unicodeScalars.allSatisfy {
            ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || "-_./:=,@%+".unicodeScalars.contains($0)
        }
        return safe && !word.isEmpty ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// What a docker invocation did. A non-zero exit is a result to inspect, not an error.
public struct CommandResult: Sendable, Equatable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    public let timedOut: Bool

    public init(status: Int32, stdout: String = "", stderr: String = "", timedOut: Bool = false) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.timedOut = timedOut
    }

    public var succeeded: Bool { status == 0 && !timedOut }
}

/// Runs docker commands. Only failing to start the program throws; exit statuses are returned.
public protocol CommandRunner: Sendable {
    func run(_ command: DockerCommand, timeout: Double) throws -> CommandResult
}
