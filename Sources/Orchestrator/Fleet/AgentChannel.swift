import Foundation
import Synchronization

/// What a host's agent answered to one request.
public struct AgentReply: Sendable, Equatable {
    public enum Failure: Sendable, Equatable {
        /// No answer within the time allowed: the host may have done it or not.
        case timedOut
        /// The session ended (the engine or the connection went away, the agent died).
        case closed(String)
        /// The agent answered that it failed.
        case refused(String)
    }

    public var fields: [String: String]
    public var failure: Failure?

    public var ok: Bool { failure == nil }

    public init(fields: [String: String] = [:], failure: Failure? = nil) {
        self.fields = fields
        self.failure = failure
    }

    public var problem: String {
        switch failure {
        case nil: return ""
        case .timedOut: return "no answer in time"
        case .closed(let why): return why
        case .refused(let why): return why
        }
    }

    /// A reply line: the marker, then one JSON object of strings (`ok` "true"/"false", `error`).
    public static let marker = "BGCTL-AGENT "

    public static func parse(_ line: String) -> AgentReply? {
        guard line.hasPrefix(marker), line.utf8.count <= 65_536,
              let object = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(marker.count).utf8)) as? [String: Any] else { return nil }
        var fields: [String: String] = [:]
        for (key, value) in object.prefix(64) {
            if let text = value as? String { fields[key] = String(text.prefix(4096)) }
        }
        if fields["ok"] == "true" { return AgentReply(fields: fields) }
        return AgentReply(fields: fields, failure: .refused(fields["error"] ?? "the agent refused"))
    }

    /// A marked line's JSON object of strings (a request, as the agent reads it); nil for other lines.
    public static func fields(of line: String) -> [String: String]? {
        guard line.hasPrefix(marker), line.utf8.count <= 65_536,
              let object = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(marker.count).utf8)) as? [String: Any] else { return nil }
        return object.compactMapValues { $0 as? String }
    }

    public static func line(_ fields: [String: String]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8)
        return marker + String(decoding: data, as: UTF8.self)
    }
}

/// A conversation with one host's agent, held open for one operation: the agent holds that host's
/// lock until the conversation ends, and undoes a flip it never recorded when it ends early.
public protocol AgentChannel: AnyObject, Sendable {
    var host: String { get }
    /// Sends one request (a JSON object of strings) and waits up to `timeout` seconds for its reply.
    func call(_ request: [String: String], timeout: Double) -> AgentReply
    /// Ends the conversation: the agent reads end of input, finishes, and releases the lock.
    func close()
    /// Ends it at once, without waiting for the agent (a host that does not answer).
    func abandon()
}

/// The real channel: `docker <host> exec -i <agent> bgctl … agent serve`, kept running. Requests go to
/// its stdin one line each; replies are the marked lines of its stdout; everything else it prints
/// (stdout and stderr) goes to `log`, line by line.
public final class ProcessAgentChannel: AgentChannel, @unchecked Sendable {
    public let host: String
    private let pid: pid_t
    private var input: Int32
    private let output: Int32
    private let errors: Int32
    private let log: @Sendable (String) -> Void
    private let lock = NSLock()
    private var pending: [UInt8] = []
    private var pendingErrors: [UInt8] = []
    private var open = true

    /// The host's call slot this session holds until it ends (see `HostSlots`).
    private let slots: HostSlots?
    private var holdsSlot = false

    /// Starts `argv` with exactly `environment`; nil with the reason when it cannot start. `slots`: a
    /// slot of the host's is taken first (waiting for one) and held until the session ends.
    public init(host: String, argv: [String], environment: [String: String], slots: HostSlots? = nil,
                log: @escaping @Sendable (String) -> Void) throws {
        self.host = host
        self.log = log
        self.slots = slots
        slots?.acquire(host)
        holdsSlot = slots != nil
        var toChild: [Int32] = [0, 0], fromChild: [Int32] = [0, 0], errChild: [Int32] = [0, 0]
        guard pipe(&toChild) == 0, pipe(&fromChild) == 0, pipe(&errChild) == 0 else {
            slots?.release(host)
            throw OrchestratorError.launchFailed(command: argv.joined(separator: " "), reason: String(cString: strerror(errno)))
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errChild[1], 2)
        for fd in toChild + fromChild + errChild { posix_spawn_file_actions_addclose(&actions, fd) }
        // Its own group: bgctl's Ctrl-C is bgctl's to act on; the conversation ends when bgctl ends it.
        let (child, spawned) = Spawn.inOwnGroup(argv, environment: environment, actions: &actions)
        SwiftGlibc.close(toChild[0])
        SwiftGlibc.close(fromChild[1])
        SwiftGlibc.close(errChild[1])
        guard spawned == 0 else {
            [toChild[1], fromChild[0], errChild[0]].forEach { SwiftGlibc.close($0) }
            slots?.release(host)
            throw OrchestratorError.launchFailed(command: argv.joined(separator: " "), reason: String(cString: strerror(spawned)))
        }
        // Writing to an agent that went away must be an error (EPIPE), not a signal that ends bgctl.
        signal(SIGPIPE, SIG_IGN)
        pid = child
        input = toChild[1]
        output = fromChild[0]
        errors = errChild[0]
    }

    private func releaseSlot() {
        guard holdsSlot else { return }
        holdsSlot = false
        slots?.release(host)
    }

    deinit {
        close()
    }

    private var isOpen: Bool {
        lock.lock()
        defer { lock.unlock() }
        return open
    }

    public func call(_ request: [String: String], timeout: Double) -> AgentReply {
        lock.lock()
        defer { lock.unlock() }
        guard open else { return AgentReply(failure: .closed("the session with \(host) is closed")) }
        let line = Array((AgentReply.line(request) + "\n").utf8)
        var written = 0
        while written < line.count {
            let count = line[written...].withUnsafeBufferPointer { write(input, $0.baseAddress, $0.count) }
            if count <= 0 {
                if errno == EINTR { continue }
                return AgentReply(failure: .closed("the session with \(host) ended (its agent or the connection went away)"))
            }
            written += count
        }
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, min(timeout, 86_400)) * 1e9)
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            if let reply = nextReply() { return reply }
            let now = DispatchTime.now().uptimeNanoseconds
            guard now < deadline else { return AgentReply(failure: .timedOut) }
            var fds = [pollfd(fd: output, events: Int16(POLLIN), revents: 0), pollfd(fd: errors, events: Int16(POLLIN), revents: 0)]
            let wait = Int32(min(200, max(1, (deadline - now) / 1_000_000)))
            guard poll(&fds, 2, wait) > 0 else { continue }
            if fds[1].revents != 0 {
                let count = read(errors, &buffer, buffer.count)
                if count > 0 { pendingErrors += buffer[0..<count]; flushErrors() }
            }
            if fds[0].revents != 0 {
                let count = read(output, &buffer, buffer.count)
                if count <= 0 { return AgentReply(failure: .closed("the session with \(host) ended before it answered\(lastWords())")) }
                pending += buffer[0..<count]
                if pending.count > 1 << 20 { pending.removeFirst(pending.count - (1 << 20)) }
            }
        }
    }

    /// The next marked line in what the agent printed; other lines are logged.
    private func nextReply() -> AgentReply? {
        while let newline = pending.firstIndex(of: 0x0A) {
            let text = String(decoding: pending[..<newline].prefix(65_536), as: UTF8.self)
            pending.removeSubrange(...newline)
            if let reply = AgentReply.parse(text) { return reply }
            if !text.isEmpty { log(text) }
        }
        return nil
    }

    private var stderrTail: [String] = []

    private func flushErrors() {
        while let newline = pendingErrors.firstIndex(of: 0x0A) {
            let text = String(decoding: pendingErrors[..<newline].prefix(4096), as: UTF8.self)
            pendingErrors.removeSubrange(...newline)
            if !text.isEmpty {
                log(text)
                stderrTail.append(text)
                if stderrTail.count > 3 { stderrTail.removeFirst() }
            }
        }
        if pendingErrors.count > 65_536 { pendingErrors.removeAll() }
    }

    private func lastWords() -> String {
        var buffer = [UInt8](repeating: 0, count: 16_384)
        var fds = pollfd(fd: errors, events: Int16(POLLIN), revents: 0)
        while poll(&fds, 1, 100) > 0 {
            let count = read(errors, &buffer, buffer.count)
            guard count > 0 else { break }
            pendingErrors += buffer[0..<count]
        }
        pendingErrors.append(0x0A)
        flushErrors()
        return stderrTail.isEmpty ? "" : ": " + stderrTail.joined(separator: " / ")
    }

    public func close() {
        // Said first: end of input does not always cross an ssh connection (no half-close).
        if isOpen { _ = call(["op": "end"], timeout: 15) }
        lock.lock()
        defer { lock.unlock() }
        guard open else { return }
        open = false
        SwiftGlibc.close(input)
        // The agent ends once it reads end of input (and undoes a flip it never recorded); bounded.
        var status: Int32 = 0
        let deadline = DispatchTime.now().uptimeNanoseconds + 30_000_000_000
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if DispatchTime.now().uptimeNanoseconds > deadline {
                kill(-pid, SIGKILL)
                waitpid(pid, &status, 0)
                break
            }
            // Keep draining, so a talkative agent never blocks on a full pipe while it finishes.
            var fds = [pollfd(fd: output, events: Int16(POLLIN), revents: 0), pollfd(fd: errors, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 2, 50) > 0 {
                if fds[0].revents != 0, read(output, &buffer, buffer.count) > 0 {}
                if fds[1].revents != 0 {
                    let count = read(errors, &buffer, buffer.count)
                    if count > 0 { pendingErrors += buffer[0..<count]; flushErrors() }
                }
            }
        }
        SwiftGlibc.close(output)
        SwiftGlibc.close(errors)
        releaseSlot()
    }

    /// Ends it at once (a host that hangs): the client is killed; the agent sees its input end.
    public func abandon() {
        lock.lock()
        let wasOpen = open
        open = false
        lock.unlock()
        guard wasOpen else { return }
        kill(-pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        [input, output, errors].forEach { SwiftGlibc.close($0) }
        lock.lock()
        releaseSlot()
        lock.unlock()
    }
}
