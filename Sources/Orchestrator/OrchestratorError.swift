/// Failures an operator can act on. Messages read: what bgctl was doing → what happened → what to do.
public enum OrchestratorError: Error, Sendable, CustomStringConvertible {
    case dockerUnavailable(detail: String)
    case launchFailed(command: String, reason: String)
    case commandFailed(doing: String, command: String, result: CommandResult)
    case notOurs(kind: String, name: String, project: String)
    case imageMissing(image: String, pull: String)
    case portInUse(container: String, publish: String, detail: String)
    case unhealthy(what: String, detail: String)
    case lockTimeout(holder: String)
    case configRejected(detail: String)
    case switchFailed(step: String, detail: String, restored: Bool)
    case state(String)

    public var description: String {
        switch self {
        case .dockerUnavailable(let detail):
            return "cannot reach the Docker engine: \(detail)\nStart dockerd (or set DOCKER_HOST) and try again."
        case .launchFailed(let command, let reason):
            return "could not start \(command): \(reason)"
        case .commandFailed(let doing, let command, let result):
            var text = "\(doing) failed\n  command: \(command)\n  exit status: \(result.status)\(result.timedOut ? " (timed out)" : "")"
            let stderr = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            if !stderr.isEmpty {
                text += "\n  stderr:\n" + stderr.split(separator: "\n", omittingEmptySubsequences: false).map { "    \($0)" }.joined(separator: "\n")
            }
            return text
        case .notOurs(let kind, let name, let project):
            return "a \(kind) named \(name) exists but was not created by bgctl for project \(project); refusing to touch it. Remove or rename it, or choose another project name."
        case .imageMissing(let image, let pull):
            return "image \(image) is not on this host and the pull policy is \(pull)\(pull == "never" ? "" : " (or the pull failed)"). Build or load it first (make images builds the local ones)."
        case .portInUse(let container, let publish, let detail):
            return "cannot start \(container): port \(publish) is already in use on the host (\(detail)). Free the port or change it in the spec."
        case .unhealthy(let what, let detail):
            return "\(what) is not healthy: \(detail)"
        case .lockTimeout(let holder):
            return "another bgctl operation holds the lock: \(holder). Wait for it, or pass --lock-wait to wait longer."
        case .configRejected(let detail):
            return "nginx rejected the new configuration; nothing was changed:\n" + detail.split(separator: "\n").map { "    \($0)" }.joined(separator: "\n")
        case .switchFailed(let step, let detail, let restored):
            return "switch failed at \(step): \(detail)\n" + (restored
                ? "The previous configuration was restored and reloaded; traffic stays on the previous pool."
                : "Restoring the previous configuration ALSO failed: check `bgctl status` and the proxy's logs now.")
        case .state(let message):
            return message
        }
    }

    public var isDockerUnavailable: Bool {
        if case .dockerUnavailable = self { return true }
        return false
    }
}

extension OrchestratorError {
    /// Recognises the engine's own wording for the common failures of a docker command.
    static func classify(doing: String, command: DockerCommand, result: CommandResult, image: String? = nil,
                         container: String? = nil, publish: [String] = [], pull: String = "missing") -> OrchestratorError {
        let stderr = result.stderr
        if stderr.contains("Cannot connect to the Docker daemon") || stderr.contains("Is the docker daemon running") {
            return .dockerUnavailable(detail: stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        if let image, stderr.contains("No such image") || stderr.contains("pull access denied")
            || stderr.contains("manifest unknown") || stderr.contains("repository does not exist") {
            return .imageMissing(image: image, pull: pull)
        }
        if let container, stderr.contains("port is already allocated") || stderr.contains("address already in use") {
            return .portInUse(container: container, publish: publish.joined(separator: ", "),
                              detail: stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return .commandFailed(doing: doing, command: command.description, result: result)
    }
}
