import NginxConfigGen

/// Failures an operator can act on. Messages read: what bgctl was doing → what happened → what to do.
public enum OrchestratorError: Error, Sendable, Equatable, CustomStringConvertible {
    case dockerUnavailable(detail: String)
    case launchFailed(command: String, reason: String)
    case commandFailed(doing: String, command: String, result: CommandResult)
    case notOurs(kind: String, name: String, project: String)
    case imageMissing(image: String, pull: String)
    case portInUse(container: String, publish: String, detail: String)
    case unhealthy(what: String, detail: String)
    case lockTimeout(holder: String)
    case configRejected(detail: String)
    /// A step after the new configuration was installed failed; `restored`: the previous one is back.
    case switchFailed(step: String, detail: String, restored: Bool)
    case reloadFailed(detail: String)
    case verifyFailed(pool: Pool, seconds: Double, detail: String)
    case smokeFailed(pool: Pool, path: String, detail: String)
    case notUp
    case proxyNotRunning(container: String)
    case networkSubnetMismatch(network: String, found: [String], wanted: String)
    case networkOverlap(network: String, subnet: String)
    case nothingToRollBack(live: Pool)
    /// `rollback --to` a release neither the history nor a pool knows; `known`: the last few that are.
    case releaseUnknown(release: String, known: [String])
    /// `rollback --to` a release whose image is no longer on this host; nothing was touched.
    case releaseImageGone(release: String, image: String)
    /// The history says the release was deployed with `--env` NAMES, and state.json no longer has their values.
    case releaseFlagsGone(release: String, image: String, names: [String])
    case stateUnreadable(path: String, reason: String)
    /// state.json names a schema newer than this bgctl reads: a newer bgctl wrote it.
    case stateTooNew(path: String, schema: Int, reads: Int)
    case lockUnavailable(path: String, reason: String)
    /// The state folder (or a folder in it) could be changed by others than its owner and root.
    case stateFolderUnsafe(path: String, reason: String)
    case file(FileError)
    /// A signal asked the operation to stop; it stopped at a safe point (`step`: the one it did not start).
    case cancelled(step: String)
    /// An interrupted operation could be neither finished nor undone; its journal stays.
    case recoveryFailed(operation: String, detail: String)
    /// `up` with proxy.tls was not handed the checked certificate and key (a caller's mistake).
    case tlsNotChecked
    /// The shared front refuses the project's claim (an address, a name, the image); nothing changed.
    case frontConflict(detail: String)
    /// A pre hook failed: the operation stopped before it changed anything.
    case hookFailed(hook: String, detail: String, tail: [String])
    /// A deploy.before_switch command exited non-zero or ran past deploy.before_switch_timeout: nothing
    /// was switched.
    case beforeSwitchFailed(command: String, detail: String, tail: [String])
    /// proxy.tls.acme could not get a certificate: `detail` says where, what and what to do; the
    /// schedule allows the next attempt at `nextAttempt` (ISO 8601).
    case acmeFailed(detail: String, nextAttempt: String?)
    case acmeNotConfigured

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
        case .hookFailed(let hook, let detail, let tail):
            return "hook \(hook) \(detail); nothing was changed" + (tail.isEmpty ? "" : "\n  its last lines:\n" + tail.suffix(10).map { "    \($0)" }.joined(separator: "\n"))
        case .beforeSwitchFailed(let command, let detail, let tail):
            return "before_switch \(command) \(detail)" + (tail.isEmpty ? "" : "\n  its last lines:\n" + tail.suffix(10).map { "    \($0)" }.joined(separator: "\n"))
        case .frontConflict(let detail):
            return "the shared front refuses this project: \(detail). Nothing was changed."
        case .configRejected(let detail):
            return "nginx rejected the new configuration; nothing was changed:\n" + detail.split(separator: "\n").map { "    \($0)" }.joined(separator: "\n")
        case .switchFailed(let step, let detail, let restored):
            return "changing the proxy's configuration failed at \(step): \(detail)\n" + (restored
                ? "The previous configuration was restored and reloaded; traffic stays on the previous pool."
                : "Restoring the previous configuration ALSO failed: check `bgctl status` and the proxy's logs now.")
        case .reloadFailed(let detail):
            return "the proxy did not take the reload signal: \(detail)"
        case .verifyFailed(let pool, let seconds, let detail):
            return "\(pool.rawValue) did not answer through the proxy within \(seconds) s (\(detail))"
        case .smokeFailed(let pool, let path, let detail):
            return "the new release on \(pool.rawValue) is not healthy: smoke check GET \(path) \(detail). Not switched."
        case .notUp:
            return "the stack is not up (no state.json); run bgctl up first"
        case .proxyNotRunning(let container):
            return "the proxy \(container) is not running; run bgctl up first"
        case .networkSubnetMismatch(let network, let found, let wanted):
            return "network \(network) has subnet \(found.joined(separator: ", ")) but the spec wants \(wanted); run bgctl down, then up"
        case .networkOverlap(let network, let subnet):
            return "cannot create network \(network): subnet \(subnet) overlaps another network on this host; set network.subnet in the spec to a free /24"
        case .nothingToRollBack(let live):
            return "the history has no switch to \(live.rawValue) to undo"
        case .releaseUnknown(let release, let known):
            let list = known.isEmpty ? "bgctl's history records no deployed release yet"
                : "the last known: \(known.joined(separator: ", ")) (bgctl history lists every deploy)"
            return "release \(release) is not in bgctl's history and runs on no pool; \(list)"
        case .releaseFlagsGone(let release, let image, let names):
            return "release \(release) was deployed with --env \(names.joined(separator: ", ")), whose values state.json no longer holds (it keeps the last \(ReleaseFlags.kept) releases'); deploy it with them: bgctl deploy --image \(image) --release \(release) " + names.map { "--env \($0)=…" }.joined(separator: " ") + ". Nothing was changed."
        case .releaseImageGone(let release, let image):
            return "release \(release) used image \(image), which is no longer on this host; pull or rebuild it, then run bgctl deploy --image \(image) --release \(release). Nothing was changed."
        case .stateUnreadable(let path, let reason):
            return "cannot read \(path): \(reason). Move it aside and run bgctl up."
        case .stateTooNew(let path, let schema, let reads):
            return "\(path) was written by a newer bgctl (state schema \(schema); this one reads up to \(reads)). Run the newer bgctl: this one would misread the stack."
        case .lockUnavailable(let path, let reason):
            return "cannot open the lock file \(path): \(reason)"
        case .stateFolderUnsafe(let path, let reason):
            return "refusing the state folder \(path): \(reason). Nothing was changed. Make it owned by the user that runs bgctl and writable by nobody else (chown, chmod go-w), or choose another state_dir."
        case .file(let error):
            return error.description
        case .recoveryFailed(let operation, let detail):
            return "could not finish or undo the interrupted \(operation): \(detail)\nRun bgctl up: it brings the stack to the spec and clears the interrupted operation."
        case .cancelled(let step):
            return "stopped by a signal before step \(step); nothing is half-done (see bgctl status and bgctl history)"
        case .acmeFailed(let detail, let nextAttempt):
            return detail + (nextAttempt.map { "\nThe next attempt is allowed from \($0) (bgctl up, bgctl certs renew or the watcher); bgctl certs renew --force tries at once." } ?? "")
        case .acmeNotConfigured:
            return "the spec has no proxy.tls.acme: bgctl obtains no certificate for this project (its files are the operator's to renew)"
        case .tlsNotChecked:
            return "proxy.tls is set but its certificate and key were not read and checked before planning up; nothing was changed"
        }
    }

    public var isDockerUnavailable: Bool {
        if case .dockerUnavailable = self { return true }
        return false
    }
}

extension OrchestratorError {
    /// The error for a failed docker command, by what `DockerFailure` recognises in its stderr.
    static func classify(doing: String, command: DockerCommand, result: CommandResult, image: String? = nil,
                         container: String? = nil, publish: [String] = [], pull: String = "missing") -> OrchestratorError {
        let detail = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        switch (result.failure, image, container) {
        case (.engineUnavailable, _, _): return .dockerUnavailable(detail: detail)
        case (.imageUnavailable, let image?, _): return .imageMissing(image: image, pull: pull)
        case (.portInUse, _, let container?): return .portInUse(container: container, publish: publish.joined(separator: ", "), detail: detail)
        default: return .commandFailed(doing: doing, command: command.description, result: result)
        }
    }
}
