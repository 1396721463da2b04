import Foundation

/// Signals a container's PID 1 directly when it is a process on this host, as `nginx -s reload` does
/// from inside the container (it reads the pid file and calls kill). This saves the docker CLI round
/// trip (~20 ms) on the switch path. The process must prove it is that container's: its cgroup names
/// the container id and its command name matches; otherwise (remote engine, bgctl in another PID
/// namespace, no permission) the caller falls back to `docker kill --signal`.
enum LocalSignal {
    static func send(_ signal: Int32, pid: Int, containerID: String, command: String) -> Bool {
        guard pid > 1, containerID.count >= 12 else { return false }
        guard let cgroup = try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8),
              let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8),
              belongs(cgroup: cgroup, comm: comm, to: containerID, command: command) else { return false }
        return kill(pid_t(pid), signal) == 0
    }

    /// True when a process's /proc cgroup and comm show it is `command` running in container `containerID`.
    static func belongs(cgroup: String, comm: String, to containerID: String, command: String) -> Bool {
        guard comm.trimmingCharacters(in: .whitespacesAndNewlines) == command else { return false }
        return inContainer(cgroup: cgroup, containerID: containerID)
    }

    /// True when a process's /proc cgroup places it in container `containerID`, in every hierarchy.
    static func inContainer(cgroup: String, containerID: String) -> Bool {
        guard containerID.count >= 12 else { return false }
        let lines = cgroup.split(separator: "\n")
        guard !lines.isEmpty else { return false }
        // Every hierarchy must place it in the container: /docker/<id> (cgroupfs) or docker-<id>.scope (systemd).
        return lines.allSatisfy { line in
            guard let path = line.split(separator: ":", maxSplits: 2).last else { return false }
            return path.hasSuffix("/docker/\(containerID)") || path.hasSuffix("/docker-\(containerID).scope")
                || path.contains("/docker/\(containerID)/") || path.contains("/docker-\(containerID).scope/")
        }
    }
}

/// The nginx master a watcher may signal by PID: the stack's watcher container shares the proxy's PID
/// namespace (`--pid container:<project>-proxy`), where the master is PID 1; on the host a person names it.
public enum NginxMaster {
    /// USR1 (reopen the logs) to `pid`, only when /proc says that process is nginx: a stale or wrong
    /// PID is never signalled. True when the signal was delivered.
    public static func reopenLogs(pid: Int) -> Bool {
        guard pid >= 1, let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8),
              isNginx(comm: comm) else { return false }
        return kill(pid_t(pid), SIGUSR1) == 0
    }

    /// HUP (reload the configuration, and the certificates it names) to `pid`, checked as above.
    public static func reload(pid: Int) -> Bool {
        guard pid >= 1, let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8),
              isNginx(comm: comm) else { return false }
        return kill(pid_t(pid), SIGHUP) == 0
    }

    static func isNginx(comm: String) -> Bool {
        comm.trimmingCharacters(in: .whitespacesAndNewlines) == "nginx"
    }
}
