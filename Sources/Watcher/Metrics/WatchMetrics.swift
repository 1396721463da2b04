import Foundation
import Prometheus

/// The watcher's figures as Prometheus metrics, in one registry that `MetricsServer` renders.
///
/// The loop's thread updates it; any thread may render `registry` (the library locks). Per-line
/// counts are kept as plain integers and handed to the registry by `flush()`, which the loop calls
/// after every read: a scrape sees them at most one read late, and a line costs no atomic. Counters only
/// grow for the life of the process: they count lines as the tailer hands them over, so a rotation
/// or truncation of the log never takes anything back (a restart starts them at zero, which
/// Prometheus reads as a counter reset). Series with a pool or status-class label appear with their
/// first request; the others exist from the start, at zero.
public final class WatchMetrics {
    /// Upper bounds of `bgctl_request_duration_seconds`, in seconds.
    public static let durationBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    public let registry: PrometheusCollectorRegistry
    /// Indexed by `PoolTag.rawValue`, then status class 1…5 as 0…4; made on first use.
    private var requests: [[Counter?]]
    private let durations: DurationBuckets
    private let pending = PendingCounts()
    private let retries: Counter
    private let failovers: Counter
    private let lines: Counter
    private let malformed: Counter
    private let tailLag: Gauge
    private let firing: [AlertKind: Gauge]
    private let sent: [AlertKind: Counter]
    private var deliveryFailures: [String: Counter] = [:]
    private var deliveryFailuresSeen: [String: Int] = [:]
    private var weights: [String: Gauge] = [:]
    // Set from the watcher's renewal thread, not the loop's: under their own lock.
    private let certificateLock = NSLock()
    private var certificateNotAfter: Gauge?
    private var certificateRenewals: [String: Counter] = [:]
    private var tooLongSeen = 0
    /// By role, then action (`ContainerEvent.metricAction`); made with the first such event.
    private var containerEvents: [String: Counter] = [:]

    /// `targets`: the alert targets' names (never their URLs), so their failure counters start at zero.
    public init(version: String, targets: [String]) {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        requests = Array(repeating: Array(repeating: nil, count: 5), count: PoolTag.allCases.count)
        durations = DurationBuckets(bounds: Self.durationBuckets)
        retries = registry.makeCounter(descriptor: Self.name(
            "upstream_retries", "total", "Requests that failed on one upstream and were tried on another."))
        failovers = registry.makeCounter(descriptor: Self.name(
            "failovers", "total", "Requests answered by a pool other than the live one."))
        lines = registry.makeCounter(descriptor: Self.name(
            "log_lines", "total", "Access-log lines read, blank lines aside; malformed ones included."))
        malformed = registry.makeCounter(descriptor: Self.name(
            "log_lines_malformed", "total", "Access-log lines that are not a log record, or longer than the line limit."))
        tailLag = registry.makeGauge(descriptor: Self.name(
            "tail_lag", "seconds", "0 when the watcher has read all of the log; else now minus the time of the last line it read."))
        var firing: [AlertKind: Gauge] = [:]
        var sent: [AlertKind: Counter] = [:]
        for kind in AlertKind.allCases {
            firing[kind] = registry.makeGauge(descriptor: Self.name(
                "alerts", "firing", "1 while the alert is firing, else 0."), labels: [("kind", kind.rawValue)])
            sent[kind] = registry.makeCounter(descriptor: Self.name(
                "alerts_sent", "total", "Alert messages (firing, repeated, resolved) handed to the alert targets."),
                labels: [("kind", kind.rawValue)])
        }
        self.firing = firing
        self.sent = sent
        for target in targets { deliveryFailure(target) }
        registry.makeGauge(descriptor: Self.name(
            "build", "info", "The running bgctl's version."), labels: [("version", version)]).set(to: 1)
    }

    /// proxy.tls.acme: the certificate's expiry, as seconds since the epoch (the series appears with it).
    public func certificate(notAfter seconds: Double) {
        certificateLock.lock()
        defer { certificateLock.unlock() }
        if certificateNotAfter == nil {
            certificateNotAfter = registry.makeGauge(descriptor: Self.name(
                "certificate_not_after", "seconds", "When the served ACME certificate expires, in seconds since the epoch."))
        }
        certificateNotAfter?.set(to: seconds)
    }

    /// One renewal attempt by the watcher, by its result (`renewed`, `failed`).
    public func certificateRenewal(_ result: String) {
        certificateLock.lock()
        defer { certificateLock.unlock() }
        if certificateRenewals[result] == nil {
            certificateRenewals[result] = registry.makeCounter(descriptor: Self.name(
                "certificate_renewals", "total", "Certificate renewals the watcher attempted, by result."), labels: [("result", result)])
        }
        certificateRenewals[result]?.increment()
    }

    /// One container event from the events file, by the container's role and the event's action.
    func containerEvent(_ event: ContainerEvent) {
        let key = event.role.rawValue + "\u{1F}" + event.metricAction
        if let counter = containerEvents[key] {
            counter.increment()
            return
        }
        let counter = registry.makeCounter(descriptor: Self.name(
            "container_events", "total", "Docker engine events about the stack's containers, by the container's role and the action."),
            labels: [("role", event.role.rawValue), ("action", event.metricAction)])
        counter.increment()
        containerEvents[key] = counter
    }

    /// One parsed request: its pool, status class, duration, and whether it was retried or failed over.
    @inline(__always)
    func observe(_ record: LogRecord, retried: Bool, failover: Bool) {
        let ints = pending.ints
        let pool = Int(record.pool.rawValue)
        ints[PendingCounts.requests &+ pool &* 5 &+ (record.status / 100 &- 1)] &+= 1
        if record.requestTime >= 0 {
            ints[PendingCounts.buckets &+ pool &* PendingCounts.width &+ DurationBuckets.bucket(record.requestTime)] &+= 1
            ints[PendingCounts.timed &+ pool] &+= 1
            pending.sums[pool] += record.requestTime
        }
        if retried { ints[PendingCounts.retries] &+= 1 }
        if failover { ints[PendingCounts.failovers] &+= 1 }
        ints[PendingCounts.lines] &+= 1
    }

    func observeMalformed() {
        pending.ints[PendingCounts.lines] &+= 1
        pending.ints[PendingCounts.malformed] &+= 1
    }

    /// Hands the counts since the last flush to the registry.
    func flush() {
        for index in 0..<(PendingCounts.pools * 5) where pending.ints[PendingCounts.requests + index] > 0 {
            request(pool: index / 5, statusClass: index % 5).increment(by: Int64(pending.take(PendingCounts.requests + index)))
        }
        for (counter, index) in [(retries, PendingCounts.retries), (failovers, PendingCounts.failovers),
                                 (lines, PendingCounts.lines), (malformed, PendingCounts.malformed)] where pending.ints[index] > 0 {
            counter.increment(by: Int64(pending.take(index)))
        }
        durations.publish(pending)
    }

    private func request(pool: Int, statusClass: Int) -> Counter {
        if let counter = requests[pool][statusClass] { return counter }
        let tag = PoolTag(rawValue: UInt8(pool)) ?? .other
        let counter = registry.makeCounter(descriptor: Self.name(
            "requests", "total", "Requests in the proxy's access log, by pool (\"\" for none) and status class."),
            labels: [("pool", tag.name), ("class", "\(statusClass + 1)xx")])
        requests[pool][statusClass] = counter
        return counter
    }

    /// Lines the tailer skipped for being too long; `total` is its running count.
    func tooLong(total: Int) {
        guard total > tooLongSeen else { return }
        let added = Int64(total - tooLongSeen)
        tooLongSeen = total
        lines.increment(by: added)
        malformed.increment(by: added)
    }

    func tailLag(_ seconds: Double) {
        tailLag.set(to: seconds.isFinite ? max(0, seconds) : 0)
    }

    func alert(_ kind: AlertKind, firing isFiring: Bool) {
        firing[kind]?.set(to: isFiring ? 1 : 0)
    }

    func alertSent(_ kind: AlertKind) {
        sent[kind]?.increment()
    }

    /// Brings the failure counters up to the delivery's running figures (failed after retries, or dropped).
    func deliveries(_ stats: [String: Delivery.Stats]) {
        for (target, figures) in stats {
            let total = figures.failed + figures.dropped
            let seen = deliveryFailuresSeen[target] ?? 0
            let counter = deliveryFailure(target)
            if total > seen {
                counter.increment(by: Int64(total - seen))
                deliveryFailuresSeen[target] = total
            }
        }
    }

    /// Weights by pool name (0–100); nil removes the metric: the watcher cannot tell.
    func poolWeights(_ weights: [String: Int]?) {
        guard let weights else {
            for gauge in self.weights.values { registry.unregisterGauge(gauge) }
            self.weights = [:]
            return
        }
        for (pool, gauge) in self.weights where weights[pool] == nil {
            registry.unregisterGauge(gauge)
            self.weights[pool] = nil
        }
        for (pool, weight) in weights {
            let gauge = self.weights[pool] ?? registry.makeGauge(descriptor: Self.name(
                "pool", "weight", "Percent of new requests the proxy sends to the pool (100 live, 0 idle)."),
                labels: [("pool", pool)])
            gauge.set(to: Double(weight))
            self.weights[pool] = gauge
        }
    }

    /// The metrics in the Prometheus text format, version 0.0.4, as of the last `flush()`.
    public func render() -> [UInt8] { exposition() }

    /// `render` for another thread (the listener): the registry's families, then the durations.
    public var exposition: @Sendable () -> [UInt8] {
        let registry = self.registry, durations = self.durations
        return {
            var buffer = registry.emitToBuffer()
            durations.render(into: &buffer)
            return buffer
        }
    }

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "bgctl", metricName: metric, unitName: unit, helpText: help)
    }

    @discardableResult
    private func deliveryFailure(_ target: String) -> Counter {
        if let counter = deliveryFailures[target] { return counter }
        let counter = registry.makeCounter(descriptor: Self.name(
            "delivery_failures", "total", "Alert messages that did not reach the target: failed after retries, or dropped from a full queue."),
            labels: [("target", target)])
        deliveryFailures[target] = counter
        return counter
    }
}
