import Foundation
import HTTPClient

/// How a command run inside a container ended, and what was done about it inside the container.
public struct ContainerExecOutcome: Sendable, Equatable {
    /// The `docker exec` client's end: the command's own exit status, or a timeout, a stop or a signal.
    public var run: HookOutcome
    /// Set when the command had to be stopped inside the container (the client's end does not stop
    /// it, moby/moby#9098): one line on how.
    public var stoppedInside: String?

    public init(run: HookOutcome, stoppedInside: String? = nil) {
        self.run = run
        self.stoppedInside = stoppedInside
    }
}

/// Runs commands inside a running container, as `docker exec` does, and stops them there.
public protocol ContainerExecuting: Sendable {
    /// Runs `argv` inside `container`, each output line to `line` as it comes. Past `timeout`, or once
    /// `cancelled` says so, the command is stopped inside the container (SIGTERM, then SIGKILL), not
    /// only the client.
    func run(_ argv: [String], in container: String, timeout: Double, cancelled: @escaping @Sendable () -> Bool,
             line: (String) -> Void) -> ContainerExecOutcome
    /// Stops whatever still runs `argv` in `container` from an exec (one a dead bgctl started); one
    /// line on what was done, nil when nothing was running.
    func stopLeftovers(_ argv: [String], in container: String) -> String?
}

/// A process a `docker exec` started, as the engine reports it (`GET /exec/ID/json`).
public struct ExecProcess: Sendable, Equatable {
    public var id: String
    public var running: Bool
    /// Its PID on the engine's host.
    public var pid: Int
    public var argv: [String]

    public init(id: String, running: Bool, pid: Int, argv: [String]) {
        self.id = id
        self.running = running
        self.pid = pid
        self.argv = argv
    }

    /// An exec's inspect document; nil when it is not one (bounded input: the engine's, read once).
    static func parse(_ body: String) -> ExecProcess? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              let id = object["ID"] as? String, let running = object["Running"] as? Bool,
              let config = object["ProcessConfig"] as? [String: Any], let entrypoint = config["entrypoint"] as? String else { return nil }
        let arguments = config["arguments"] as? [String] ?? []
        return ExecProcess(id: id, running: running, pid: (object["Pid"] as? Int) ?? 0, argv: [entrypoint] + arguments)
    }
}

extension EngineSocket {
    /// The container's id and the execs the engine keeps for it (running or recently ended); nil when
    /// the engine could not be asked or the container is not there.
    public func execs(of container: String) -> (containerID: String, execs: [ExecProcess])? {
        guard Self.isPlainName(container), let body = get("/containers/\(container)/json"),
              let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              let id = object["Id"] as? String, Self.isHexID(id) else { return nil }
        let ids = (object["ExecIDs"] as? [String] ?? []).filter(Self.isHexID)
        // Past this many the list is not read whole: not knowing is no "nothing runs".
        guard ids.count <= 256 else { return nil }
        var found: [ExecProcess] = []
        for exec in ids {
            // An exec the engine forgot between the two calls is simply gone.
            if let text = get("/exec/\(exec)/json"), let process = ExecProcess.parse(text) { found.append(process) }
        }
        return (id, found)
    }

    private func get(_ path: String) -> String? {
        let request = HTTPRequest(url: "http://localhost" + path, timeout: 5, connectTimeout: 2, unixSocket: self.path)
        guard case .success(let response) = http.perform(request), response.status == 200 else { return nil }
        return response.bodyText
    }

    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 128
            && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_.-".unicodeScalars.contains($0)) }
    }

    static func isHexID(_ id: String) -> Bool {
        id.utf8.count == 64 && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}

/// The real one: the docker CLI's `docker exec` (its output streamed by `HookProcess`), and, to stop a
/// command inside the container, its processes found through the engine's API (the exec's PID and its
/// descendants, each proven to be in the container's cgroup) and signalled on this host. When that is
/// not possible (a remote engine, no permission, a process that will not die), the container is
/// restarted: it is the idle pool, which serves no traffic yet.
public struct DockerExec: ContainerExecuting {
    let docker: String
    let environment: [String: String]
    let process: HookRunning
    let engine: EngineSocket?
    let runner: CommandRunner
    /// Between SIGTERM and SIGKILL inside the container.
    let grace: Double

    public init(runner: ProcessRunner, engine: EngineSocket?, process: HookRunning = HookProcess(), grace: Double = 5) {
        self.docker = runner.executable
        self.environment = runner.environment
        self.process = process
        self.engine = engine
        self.runner = runner
        self.grace = grace
    }

    public func run(_ argv: [String], in container: String, timeout: Double, cancelled: @escaping @Sendable () -> Bool,
                    line: (String) -> Void) -> ContainerExecOutcome {
        let outcome = process.run([docker, "exec", container] + argv, environment: environment, directory: "/",
                                  timeout: timeout, cancelled: cancelled, line: line)
        switch outcome.end {
        case .exited, .launchFailed:
            return ContainerExecOutcome(run: outcome)
        case .timedOut, .stopped, .signalled:
            // The client is gone; the command may not be.
            return ContainerExecOutcome(run: outcome, stoppedInside: stopLeftovers(argv, in: container))
        }
    }

    public func stopLeftovers(_ argv: [String], in container: String) -> String? {
        guard let engine else { return restart(container, why: "the engine's API is not reachable from here") }
        // An exec the client asked for just before it was stopped may take a moment to show.
        var found = engine.execs(of: container)
        var running = found.map { Self.running($0.execs, argv) } ?? []
        if found != nil && running.isEmpty {
            usleep(300_000)
            found = engine.execs(of: container)
            running = found.map { Self.running($0.execs, argv) } ?? []
        }
        guard let found else { return restart(container, why: "the engine did not list its execs") }
        guard !running.isEmpty else { return nil }
        let roots = running.map(\.pid)
        guard roots.allSatisfy({ ProcessTree.inContainer(pid: $0, containerID: found.containerID) }) else {
            return restart(container, why: "its processes are not visible on this host")
        }
        // The command's processes: its own and its descendants, gathered while it lives (a child it
        // leaves behind is reparented to the container's init and no longer descends from it). Each is
        // known by its PID and start time, so a PID the kernel hands to another process is left alone.
        var tree: [Int: UInt64] = [:]
        let rootStarts = Dictionary(uniqueKeysWithValues: roots.map { ($0, ProcessTree.startTime($0)) })
        func same(_ pid: Int, _ start: UInt64?) -> Bool { start != nil && ProcessTree.startTime(pid) == start }
        func gather() {
            let living = roots.filter { same($0, rootStarts[$0] ?? nil) }
            for pid in ProcessTree.withDescendants(living) where tree[pid] == nil && ProcessTree.inContainer(pid: pid, containerID: found.containerID) {
                if let start = ProcessTree.startTime(pid) { tree[pid] = start }
            }
        }
        // A zombie is done: a container whose PID 1 is no init never reaps the orphans it is handed.
        func alive() -> [Int] {
            tree.filter { same($0.key, $0.value) && ProcessTree.inContainer(pid: $0.key, containerID: found.containerID) && !ProcessTree.isZombie($0.key) }
                .keys.sorted()
        }
        let shown = roots.map(String.init).joined(separator: ", ")
        for signal in [SIGTERM, SIGKILL] {
            gather()
            for pid in alive() where kill(pid_t(pid), signal) != 0 && errno == EPERM {
                return restart(container, why: "bgctl may not signal pid \(pid) (not permitted)")
            }
            let deadline = DispatchTime.now().uptimeNanoseconds + UInt64((signal == SIGTERM ? grace : 2) * 1e9)
            while DispatchTime.now().uptimeNanoseconds < deadline {
                gather()
                if alive().isEmpty {
                    return "stopped inside \(container): \(signal == SIGTERM ? "SIGTERM" : "SIGKILL, after SIGTERM and \(Self.seconds(grace))") to pid \(shown) and its children (\(tree.count) process\(tree.count == 1 ? "" : "es"))"
                }
                usleep(50_000)
            }
        }
        return restart(container, why: "pid \(shown) outlived SIGKILL")
    }

    static func seconds(_ value: Double) -> String {
        value.rounded() == value ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }

    static func running(_ execs: [ExecProcess], _ argv: [String]) -> [ExecProcess] {
        execs.filter { $0.running && $0.argv == argv && $0.pid > 1 }
    }

    private func restart(_ container: String, why: String) -> String {
        let result = try? runner.run(Docker.restart(container, timeout: Int(grace.rounded(.up))), timeout: grace + 60)
        if result?.succeeded == true { return "restarted \(container) to stop it (\(why))" }
        return "could not stop it inside \(container) (\(why); docker restart failed too)"
    }
}

/// Processes on this host, read from /proc.
enum ProcessTree {
    /// `roots` and every process descending from one of them.
    static func withDescendants(_ roots: [Int]) -> [Int] {
        var children: [Int: [Int]] = [:]
        for (pid, parent) in parents() { children[parent, default: []].append(pid) }
        var seen = Set<Int>(), queue = roots, order: [Int] = []
        while let pid = queue.popLast() {
            guard seen.insert(pid).inserted else { continue }
            order.append(pid)
            queue += children[pid] ?? []
        }
        return order
    }

    /// Each process's parent, from /proc/PID/stat (the field after the command's closing parenthesis).
    static func parents() -> [(Int, Int)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return names.compactMap { name -> (Int, Int)? in
            guard let pid = Int(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8) else { return nil }
            return parentPID(stat: stat).map { (pid, $0) }
        }
    }

    /// When the process started (clock ticks since boot, /proc/PID/stat field 22); nil when it is gone.
    static func startTime(_ pid: Int) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        return startTime(stat: stat)
    }

    static func startTime(stat: String) -> UInt64? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        // Fields from the state on: state is field 3, so the start time (22) is the 20th here.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count >= 20 ? UInt64(fields[19]) : nil
    }

    /// Exited and not yet reaped (state Z), or gone.
    static func isZombie(_ pid: Int) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        return state(stat: stat) == "Z"
    }

    static func state(stat: String) -> Character? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ").first?.first
    }

    static func parentPID(stat: String) -> Int? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count >= 2 ? Int(fields[1]) : nil
    }

    /// The process's cgroups place it in the container (see `LocalSignal.belongs`).
    static func inContainer(pid: Int, containerID: String) -> Bool {
        guard pid > 1, let cgroup = try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8) else { return false }
        return LocalSignal.inContainer(cgroup: cgroup, containerID: containerID)
    }
}
