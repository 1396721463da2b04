import NginxConfigGen
import Support

/// Builders named after docker verbs. They execute nothing; they return the command to run.
public enum Docker {
    public static let label = "io.bgctl.project"
    public static let roleLabel = "io.bgctl.role"
    public static let poolLabel = "io.bgctl.pool"
    /// On a service's containers: the service's name.
    public static let serviceLabel = "io.bgctl.service"
    public static let hashLabel = "io.bgctl.config-hash"

    public static func version() -> DockerCommand {
        DockerCommand(["version", "--format", "{{.Server.Version}}"])
    }

    public static func inspectContainers(_ names: [String]) -> DockerCommand {
        DockerCommand(["container", "inspect"] + names)
    }

    public static func inspectNetwork(_ name: String) -> DockerCommand {
        DockerCommand(["network", "inspect", name])
    }

    /// Prints the image's id and size in bytes; exits non-zero with "No such image" when it is not there.
    public static func inspectImage(_ image: String) -> DockerCommand {
        DockerCommand(["image", "inspect", "--format", "{{.Id}} {{.Size}}", image])
    }

    /// Without --force: the engine refuses an image a container (running or not) still uses.
    public static func removeImage(_ image: String) -> DockerCommand {
        DockerCommand(["image", "rm", image])
    }

    public static func createNetwork(_ name: String, subnet: String, project: String) -> DockerCommand {
        DockerCommand(["network", "create", "--driver", "bridge", "--subnet", subnet,
                       "--label", "\(label)=\(project)", name])
    }

    public static func connectNetwork(_ network: String, _ container: String) -> DockerCommand {
        DockerCommand(["network", "connect", network, container])
    }

    public static func disconnectNetwork(_ network: String, _ container: String) -> DockerCommand {
        DockerCommand(["network", "disconnect", "--force", network, container])
    }

    public static func removeNetwork(_ name: String) -> DockerCommand {
        DockerCommand(["network", "rm", name])
    }

    public static func run(_ container: ContainerConfig) -> DockerCommand {
        var args = ["run", "--detach", "--name", container.name, "--network", container.network]
        if let ip = container.ipAddress { args += ["--ip", ip] }
        if let pid = container.pidNamespace { args += ["--pid", pid] }
        if let confinement = container.confinement {
            args += ["--cap-drop", "ALL"] + confinement.capabilities.flatMap { ["--cap-add", $0] }
            args += ["--security-opt", "no-new-privileges"]
            if confinement.readOnly { args.append("--read-only") }
        }
        if let limit = container.logLimit {
            args += ["--log-driver", "json-file", "--log-opt", "max-size=\(limit.maxSize)", "--log-opt", "max-file=\(limit.maxFiles)"]
        }
        args += ["--restart", "unless-stopped", "--pull", container.pull.rawValue]
        for (key, value) in container.labels.sorted(by: { $0.key < $1.key }) {
            args += ["--label", "\(key)=\(value)"]
        }
        if !container.environment.isEmpty {
            args += ["--env-file", DockerCommand.envFileToken]
        }
        for publish in container.publish {
            args += ["--publish", publish]
        }
        for mount in container.mounts {
            args += ["--volume", mount]
        }
        for tmpfs in container.tmpfs {
            args += ["--tmpfs", tmpfs]
        }
        if let health = container.health {
            if let command = health.command { args += ["--health-cmd", command] }
            args += ["--health-interval", health.interval, "--health-timeout", health.timeout,
                     "--health-retries", String(health.retries), "--health-start-period", health.startPeriod]
        }
        if container.noHealthcheck { args.append("--no-healthcheck") }
        if let stopSignal = container.stopSignal { args += ["--stop-signal", stopSignal] }
        if let stopTimeout = container.stopTimeout { args += ["--stop-timeout", String(stopTimeout)] }
        if let entrypoint = container.entrypoint { args += ["--entrypoint", entrypoint] }
        args.append(container.image)
        args += container.command
        return DockerCommand(args, secretEnvironment: container.environment)
    }

    public static func start(_ name: String) -> DockerCommand {
        DockerCommand(["start", name])
    }

    public static func remove(_ name: String) -> DockerCommand {
        DockerCommand(["rm", "--force", "--volumes", name])
    }

    public static func stop(_ name: String, timeout: Int) -> DockerCommand {
        DockerCommand(["stop", "--time", String(timeout), name])
    }

    /// The names of the project's containers with this role (`docker ps -a` by label), one per line.
    public static func listContainers(project: String, role: String) -> DockerCommand {
        DockerCommand(["ps", "--all", "--filter", "label=\(label)=\(project)", "--filter", "label=\(roleLabel)=\(role)", "--format", "{{.Names}}"])
    }

    public static func restart(_ name: String, timeout: Int) -> DockerCommand {
        DockerCommand(["restart", "--time", String(timeout), name])
    }

    public static func exec(_ name: String, _ command: [String]) -> DockerCommand {
        DockerCommand(["exec", name] + command)
    }

    public static func signal(_ name: String, _ signal: String) -> DockerCommand {
        DockerCommand(["kill", "--signal", signal, name])
    }

    public static func top(_ name: String) -> DockerCommand {
        DockerCommand(["top", name])
    }

    public static func logs(_ name: String, tail: Int) -> DockerCommand {
        DockerCommand(["logs", "--tail", String(tail), name])
    }
}

/// Everything `docker run` needs to create one of bgctl's containers.
public struct ContainerConfig: Sendable, Equatable {
    public struct Health: Sendable, Equatable {
        /// Nil keeps the image's own HEALTHCHECK command (scratch images have no shell for --health-cmd).
        public var command: String?
        public var interval: String
        public var timeout: String
        public var retries: Int
        public var startPeriod: String
    }

    public var name: String
    public var image: String
    public var network: String
    public var ipAddress: String?
    public var pull: PullPolicy
    public var labels: [String: String]
    public var environment: [String: String]
    public var publish: [String]
    public var mounts: [String]
    public var tmpfs: [String]
    public var health: Health?
    public var stopSignal: String?
    public var stopTimeout: Int?
    public var entrypoint: String?
    public var command: [String]
    /// Docker's json-file log bounded to `maxFiles` files of `maxSize` (`--log-opt max-size/max-file`).
    public var logLimit: LogLimit?
    /// `--no-healthcheck`: the image's HEALTHCHECK is not run (a worker has no health path to answer).
    public var noHealthcheck = false
    /// `--pid`: `container:<name>` joins that container's PID namespace.
    public var pidNamespace: String?
    /// Every capability dropped but `capabilities`, no new privileges, and with `readOnly` a read-only
    /// root file system; nil: Docker's defaults.
    public var confinement: Confinement?

    public struct Confinement: Sendable, Equatable {
        public var capabilities: [String]
        public var readOnly: Bool
    }

    public struct LogLimit: Sendable, Equatable {
        /// In docker's units (`100m`, `64k`).
        public var maxSize: String
        public var maxFiles: Int
    }

    /// A digest of everything that shapes the container, stored as a label, so `up` can tell
    /// whether an existing container still matches the spec.
    public var fingerprint: String {
        var parts = [name, image, network, ipAddress ?? "", entrypoint ?? "", stopSignal ?? "", stopTimeout.map(String.init) ?? ""]
        parts += labels.filter { $0.key != Docker.hashLabel }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        parts += environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        parts += publish + mounts + tmpfs + command
        if let health { parts += [health.command ?? "", health.interval, health.timeout, String(health.retries), health.startPeriod] }
        if let logLimit { parts += ["log:\(logLimit.maxSize)/\(logLimit.maxFiles)"] }
        if let pidNamespace { parts += ["pid:\(pidNamespace)"] }
        if noHealthcheck { parts += ["no-healthcheck"] }
        if let confinement { parts += ["confined:\(confinement.readOnly):" + confinement.capabilities.joined(separator: ",")] }
        return String(FNV1a.hash(parts, separator: "\u{1F}"), radix: 16)
    }
}
