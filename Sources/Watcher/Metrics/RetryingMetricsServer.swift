import Foundation
import Synchronization

/// A `MetricsServer` for a watcher that runs until stopped: an address that cannot be bound at start
/// (in use: another stack's watcher on the same host) is tried again every `retryInterval` seconds on
/// a thread of its own, while the watcher goes on tailing and alerting. Metrics are a view of the
/// watcher; they never stop it.
public final class RetryingMetricsServer: Sendable {
    public let host: String
    public let port: Int
    public let retryInterval: Double
    private let state = Mutex<MetricsServer?>(nil)
    private let stopping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let retryDone = DispatchSemaphore(value: 0)
    private let retrying: Bool

    /// Binds now; when that fails, `unavailable` is told once and a retry thread binds later, telling
    /// `bound` when it has. Neither is called after `stop()`.
    public init(host: String, port: Int, retryInterval: Double = 30,
                unavailable: @escaping @Sendable (MetricsServerError) -> Void,
                bound: @escaping @Sendable (MetricsServer) -> Void = { _ in },
                render: @escaping @Sendable () -> [UInt8]) {
        self.host = host
        self.port = port
        // At least 10 ms between attempts: a retry loop must never spin.
        self.retryInterval = max(0.01, retryInterval)
        let failure: MetricsServerError
        do {
            let server = try MetricsServer(host: host, port: port, render: render)
            state.withLock { $0 = server }
            retrying = false
            return
        } catch let error as MetricsServerError {
            failure = error
        } catch {
            failure = MetricsServerError(address: "\(host):\(port)", code: EINVAL, doing: "bind")
        }
        retrying = true
        unavailable(failure)
        let thread = Thread { [self] in
            defer { retryDone.signal() }
            while true {
                // Waits the interval, or less when stop() wakes it.
                _ = wake.wait(timeout: .now() + self.retryInterval)
                if stopping.load(ordering: .acquiring) { return }
                guard let server = try? MetricsServer(host: host, port: port, render: render) else { continue }
                let kept = state.withLock { current -> Bool in
                    guard !stopping.load(ordering: .acquiring) else { return false }
                    current = server
                    return true
                }
                if kept { bound(server) } else { server.stop() }
                return
            }
        }
        thread.name = "bgctl-metrics-retry"
        thread.start()
    }

    /// The listener, once the address is bound; nil while it is being retried.
    public var server: MetricsServer? { state.withLock { $0 } }

    /// Stops retrying and serving; waits for the retry thread, at most a second.
    /// Seconds `stop()` waits at most: for the retry thread, then for the server's own stop.
    public static let longestStop = 2 * MetricsServer.longestStop

    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if retrying {
            wake.signal()
            _ = retryDone.wait(timeout: .now() + MetricsServer.longestStop)
        }
        state.withLock { $0 }?.stop()
    }
}

extension MetricsServerError {
    /// One line for stderr when a watcher goes on without metrics and binds again later.
    public func notServedWarning(retryInterval: Double) -> String {
        let every = retryInterval.rounded() == retryInterval ? "\(Int(retryInterval)) s" : "\(retryInterval) s"
        if code == EADDRINUSE {
            return "metrics not served: \(address) is in use (another stack's watcher?); set watch.metrics.listen to a free port; retrying every \(every)"
        }
        let reason = String(cString: strerror(code)).lowercased()
        return "metrics not served: \(address): \(doing) failed: \(reason); retrying every \(every)"
    }
}
