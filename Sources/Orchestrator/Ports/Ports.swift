import Foundation
import HTTPClient

/// Something that can answer an HTTP GET: libcurl in production, a script in tests.
public protocol HTTPProbing: Sendable {
    func get(_ url: String, timeout: Double) -> Result<HTTPResponse, HTTPError>
}

extension HTTPClient: HTTPProbing {}

/// Time as operations see it: the wall clock for records, a monotonic clock for durations, and
/// sleeping. Injected, so a test can run a wait of minutes in microseconds and stop at any instant.
public struct Clock: Sendable {
    public var now: @Sendable () -> Date
    /// Seconds on a clock that never jumps; only differences mean anything.
    public var monotonic: @Sendable () -> Double
    public var sleep: @Sendable (Double) -> Void

    public init(now: @escaping @Sendable () -> Date, monotonic: @escaping @Sendable () -> Double,
                sleep: @escaping @Sendable (Double) -> Void) {
        self.now = now
        self.monotonic = monotonic
        self.sleep = sleep
    }

    public static let system = Clock(
        now: { Date() },
        monotonic: { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 },
        sleep: { seconds in if seconds > 0 { usleep(useconds_t(min(seconds, 3600) * 1e6)) } })

    /// ISO 8601 with milliseconds, as state and history record times.
    public func timestamp() -> String { Clock.iso(now()) }

    public static func iso(_ date: Date) -> String { ISOTime.format(date) }

    public static func parseISO(_ text: String) -> Date? { ISOTime.parse(text) }
}

/// The signals bgctl sends to the proxy's nginx master.
public enum ProxySignal: String, Sendable {
    /// Graceful reload of the configuration.
    case reload = "HUP"
    /// Reopen the log files (after a rename).
    case reopen = "USR1"

    var number: Int32 { self == .reload ? SIGHUP : SIGUSR1 }
}

/// Delivers a signal to a container's PID 1. One type for every signal bgctl sends.
public protocol Signalling: Sendable {
    /// A failure to deliver is returned, not thrown; only failing to run docker throws.
    func send(_ signal: ProxySignal, to container: ContainerInfo) throws -> CommandResult
}

/// Directly when PID 1 is a verified process of this host (saves the docker CLI round trip on the
/// switch path), else through `docker kill --signal`.
public struct ProxySignaller: Signalling {
    public let runner: CommandRunner
    public let direct: Bool

    public init(runner: CommandRunner, direct: Bool = true) {
        self.runner = runner
        self.direct = direct
    }

    public func send(_ signal: ProxySignal, to container: ContainerInfo) throws -> CommandResult {
        if direct, LocalSignal.send(signal.number, pid: container.pid, containerID: container.id, command: "nginx") {
            return CommandResult(status: 0)
        }
        return try runner.run(Docker.signal(container.name, signal.rawValue), timeout: 30)
    }
}
