import Foundation

/// How a hook ended.
public struct HookOutcome: Sendable, Equatable {
    public enum End: Sendable, Equatable {
        case exited(Int32)
        /// Killed by this signal (its own, or bgctl's after a timeout or a stop request).
        case signalled(Int32)
        case timedOut
        /// bgctl was asked to stop (SIGINT/SIGTERM): the hook's process group was stopped with it.
        case stopped
        case launchFailed(String)
    }

    public var end: End
    /// The last lines it printed (stdout and stderr together), at most `HookProcess.keptLines`.
    public var tail: [String]
    public var seconds: Double

    public var succeeded: Bool { end == .exited(0) }

    public var summary: String {
        switch end {
        case .exited(let code): return "exited \(code)"
        case .signalled(let signal): return "was killed by signal \(signal)"
        case .timedOut: return "ran past its timeout and was stopped"
        case .stopped: return "was stopped with bgctl (a signal asked bgctl to stop)"
        case .launchFailed(let reason): return "could not start: \(reason)"
        }
    }
}

public protocol HookRunning: Sendable {
    /// Runs `argv` in its own process group with exactly `environment`, in `directory`; each output
    /// line goes to `line` as it comes. Past `timeout`, or once `cancelled` says so, the group gets
    /// SIGTERM, then SIGKILL 5 s later.
    func run(_ argv: [String], environment: [String: String], directory: String, timeout: Double,
             cancelled: @Sendable () -> Bool, line: (String) -> Void) -> HookOutcome
}

/// glibc's (2.29+) `posix_spawn_file_actions_addchdir_np`, which Swift's Glibc module does not
/// import: the hook starts in the spec's folder without bgctl changing its own.
@_silgen_name("posix_spawn_file_actions_addchdir_np")
private func spawnAddChdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: UnsafePointer<CChar>) -> Int32

/// posix_spawn into a process group of its own (to signal it whole, and so bgctl's Ctrl-C stays
/// bgctl's), with default signal handling and an empty mask whatever bgctl set: hooks, before_switch
/// commands and fleet agent sessions start this way.
enum Spawn {
    /// The PID and posix_spawn's result (0 when it started); a command without "/" is looked up on PATH.
    static func inOwnGroup(_ argv: [String], environment: [String: String], actions: inout posix_spawn_file_actions_t) -> (pid_t, Int32) {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        let command = argv[0]
        let result = command.contains("/")
            ? posix_spawn(&pid, command, &actions, &attributes, cArgs, cEnv)
            : posix_spawnp(&pid, command, &actions, &attributes, cArgs, cEnv)
        return (pid, result)
    }
}

/// The real hook runner: posix_spawn (no shell) into a new process group, so a timeout or a stop
/// reaches the whole group, not just the command bgctl started. Output is read with poll(2), split
/// into lines of at most 4 KiB (longer ones are cut), and the last lines kept.
public struct HookProcess: HookRunning {
    public static let keptLines = 20
    static let maxLine = 4096
    static let grace = 5.0

    public init() {}

    public func run(_ argv: [String], environment: [String: String], directory: String, timeout: Double,
                    cancelled: @Sendable () -> Bool, line: (String) -> Void) -> HookOutcome {
        let started = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
        guard let command = argv.first else { return HookOutcome(end: .launchFailed("no command"), tail: [], seconds: 0) }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return HookOutcome(end: .launchFailed(String(cString: strerror(errno))), tail: [], seconds: 0) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])
        _ = directory.withCString { spawnAddChdir(&actions, $0) }
        let (pid, spawn) = Spawn.inOwnGroup(argv, environment: environment, actions: &actions)
        close(fds[1])
        guard spawn == 0 else {
            close(fds[0])
            return HookOutcome(end: .launchFailed("\(command): \(String(cString: strerror(spawn)))"), tail: [], seconds: elapsed())
        }
        var tail: [String] = []
        var pending: [UInt8] = []
        func emit(_ bytes: [UInt8]) {
            let text = String(decoding: bytes.prefix(Self.maxLine), as: UTF8.self)
            line(text)
            tail.append(text)
            if tail.count > Self.keptLines { tail.removeFirst(tail.count - Self.keptLines) }
        }
        var stoppedFor: HookOutcome.End?
        var killAt: Double?
        var buffer = [UInt8](repeating: 0, count: 16_384)
        var open = true
        while open {
            if stoppedFor == nil {
                if elapsed() >= timeout { stoppedFor = .timedOut } else if cancelled() { stoppedFor = .stopped }
                if stoppedFor != nil {
                    kill(-pid, SIGTERM)
                    killAt = elapsed() + Self.grace
                }
            } else if let at = killAt, elapsed() >= at {
                kill(-pid, SIGKILL)
                killAt = nil
            }
            var poller = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            let count = read(fds[0], &buffer, buffer.count)
            if count <= 0 {
                open = false
                break
            }
            pending += buffer[0..<count]
            while let newline = pending.firstIndex(of: 0x0A) {
                emit(Array(pending[..<newline]))
                pending.removeSubrange(...newline)
            }
            if pending.count > Self.maxLine {
                emit(pending)
                pending.removeAll()
            }
        }
        close(fds[0])
        if !pending.isEmpty { emit(pending) }
        // The pipe closed: the command (and whatever held its output) is done or going; reap it,
        // still bounded, since a child may have closed its output and gone on running.
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            if stoppedFor == nil && (elapsed() >= timeout || cancelled()) {
                stoppedFor = elapsed() >= timeout ? .timedOut : .stopped
                kill(-pid, SIGTERM)
                killAt = elapsed() + Self.grace
            } else if let at = killAt, elapsed() >= at {
                kill(-pid, SIGKILL)
                killAt = nil
            }
            usleep(20_000)
        }
        if let stoppedFor {
            // Whatever is left of its group goes too.
            kill(-pid, SIGKILL)
            return HookOutcome(end: stoppedFor, tail: tail, seconds: elapsed())
        }
        let end: HookOutcome.End = (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signalled(status & 0x7f)
        return HookOutcome(end: end, tail: tail, seconds: elapsed())
    }
}
