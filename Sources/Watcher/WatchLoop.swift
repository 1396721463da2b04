import Foundation
import Support
import Synchronization

public struct WatchOptions: Sendable {
    public var logPath: String
    public var fromStart = false
    /// Process what is there and stop (standard input: until it ends).
    public var once = false
    /// Stop after this many seconds.
    public var duration: Double?
    /// Written about once a second: figures and alert states, for `bgctl status`.
    public var statusPath: String?
    /// Where the tail position is kept, so a restart resumes instead of skipping lines.
    public var checkpointPath: String?
    /// `bgctl maintenance on|off` writes this file; the watcher rereads it while running.
    public var maintenancePath: String?
    public var maintenanceDefault = false
    /// Rotate the followed log past this policy on each periodic tick; only with a `reopen` given to the loop.
    public var rotation: LogRotation.Policy?
    /// A JSON file with the live pool and any weights (state.json, or the watcher's pools.json); the
    /// watcher rereads it when it changes, for `bgctl_pool_weight`. Nil, or absent: no such metric.
    public var poolsPath: String?
    /// The events container's `events.jsonl`: container events to alert on and count; nil: none.
    public var eventsPath: String?
    /// Where the events file's tail position is kept: a watcher restarted by the proxy's restart (it
    /// lives in the proxy's PID namespace) still reads the events of that restart.
    public var eventsCheckpointPath: String?

    public init(logPath: String) {
        self.logPath = logPath
    }
}

/// One fired or resolved alert, as the summary and the JSON output list it.
public struct AlertRecord: Sendable, Codable, Equatable {
    public var kind: AlertKind
    public var state: AlertNotification.State
    public var at: String
    public var pool: String
    public var live: String
    public var summary: String
    public var figures: WindowFigures
    public var suppressed: Bool
}

public struct WatchSummary: Sendable, Codable {
    public var lines = 0
    public var malformed = 0
    public var byPool: [String: Int] = [:]
    public var status5xx = 0
    public var status4xx = 0
    public var retried = 0
    public var ignored = 0
    /// Lines of preview requests (routed to the pool the client named), left out of the analysis.
    public var previewRouted = 0
    public var alerts: [AlertRecord] = []
    public var deliveries: [String: Delivery.Stats] = [:]
    public var rotations = 0
    public var truncations = 0
    /// Rotations this watcher carried out itself (`rotations` counts every one the tailer followed).
    public var rotated = 0

    enum CodingKeys: String, CodingKey {
        case lines, malformed, retried, ignored, alerts, deliveries, rotations, truncations, rotated
        case byPool = "by_pool"
        case status5xx = "status_5xx"
        case status4xx = "status_4xx"
        case previewRouted = "preview_routed"
    }

    public var anyFired: Bool { alerts.contains { $0.state == .firing } }
}

/// What `bgctl status` reads from a running watcher.
public struct WatcherStatus: Sendable, Codable {
    public var updatedAt: String
    public var lines: Int
    public var malformed: Int
    public var figures: WindowFigures
    public var firing: [AlertKind]
    public var maintenance: Bool
    public var deliveries: [String: Delivery.Stats]
    /// Rotations this watcher carried out; nil from a watcher that does not rotate (or predates it).
    public var rotated: Int?

    enum CodingKeys: String, CodingKey {
        case lines, malformed, figures, firing, maintenance, deliveries, rotated
        case updatedAt = "updated_at"
    }
}

/// Joins the edges: tail → parse → analyse → decide → tell. Runs until the input ends (`once`), the
/// duration passes, or `stop()` says so; then returns the summary.
public final class WatchLoop {
    /// From a stop (SIGTERM) to the exit of a watcher that runs until stopped, at most this many
    /// seconds: the README's and the systemd unit's promise, and under the watcher container's
    /// `docker stop` timeout (15 s).
    public static let stopBound = 10.0
    /// Deliveries still queued or in flight at the stop get this long (a hung webhook holds its
    /// worker for a whole request timeout, then retries). The rest of `stopBound` is for the metrics
    /// listener's stop (`RetryingMetricsServer.longestStop`), the last batch and the status file.
    public static let deliveryGrace = 6.0

    public let settings: WatchSettings
    public let options: WatchOptions
    private let delivery: Delivery?
    private let emit: (AlertNotification, AlertRecord) -> Void
    private let clock: () -> Double
    private var analyzer: Analyzer
    private var book: AlertBook
    private var summary = WatchSummary()
    private var maintenance: Bool
    private var maintenanceStamp: Double = -1
    private let rules: LogRules
    /// Requests per PoolTag, indexed by raw value; turned into `by_pool` at the end.
    private var poolCounts = [Int](repeating: 0, count: PoolTag.allCases.count)
    /// The time of the current batch of lines: the clock is read once per batch, not per line.
    private var batchTime: Double = 0
    /// Makes the log's writer reopen it (USR1 to nginx); true when the signal was delivered.
    private let reopen: (() -> Bool)?
    private let rotationFiles: RotationFiles
    /// Where rotation problems are told (the CLI prints them); the watch goes on.
    private let log: (String) -> Void
    /// After a failed rotation or reopen, the next attempt waits until then: one message per 30 s, not per tick.
    private var rotationRetryAt: Double = 0
    private let metrics: WatchMetrics?
    /// The log time of the last record read (0: none had one yet), for the tail lag.
    private var lastLineTime: Double = 0
    private var poolsStamp: Double = -1
    /// Detections from outside the log (the live-pool prober's route moves), handed in from its thread.
    private let inbox = Mutex<[Detection]>([])
    private var containerEvents = ContainerEventBook()
    /// The live pool as the route says (the CLI reads it); nil, or nil returned: the log's `live`.
    private let live: (() -> String?)?

    /// `reopen` enables rotation by `options.rotation`; without it the watcher only follows rotations.
    public init(settings: WatchSettings, options: WatchOptions, delivery: Delivery?,
                clock: @escaping () -> Double = { Date().timeIntervalSince1970 },
                reopen: (() -> Bool)? = nil, rotationFiles: RotationFiles = LocalRotationFiles(),
                log: @escaping (String) -> Void = { _ in }, metrics: WatchMetrics? = nil,
                live: (() -> String?)? = nil,
                emit: @escaping (AlertNotification, AlertRecord) -> Void) {
        self.live = live
        self.metrics = metrics
        self.reopen = reopen
        self.rotationFiles = rotationFiles
        self.log = log
        self.settings = settings
        self.options = options
        self.delivery = delivery
        self.emit = emit
        self.clock = clock
        self.analyzer = Analyzer(settings: settings)
        self.book = AlertBook(cooldown: settings.cooldown)
        self.maintenance = options.maintenanceDefault
        self.rules = LogRules(settings: settings)
    }

    /// Hands in a detection made outside the log (from any thread); the loop alerts on it at its next pass.
    public func report(_ detection: Detection) {
        inbox.withLock { $0.append(detection) }
    }

    private func drainInbox() {
        let detections = inbox.withLock { pending -> [Detection] in
            defer { pending = [] }
            return pending
        }
        for detection in detections {
            for notification in book.process(detection, maintenance: maintenance) { tell(notification) }
        }
    }

    public func run(stop: () -> Bool) -> WatchSummary {
        let resume = options.checkpointPath.flatMap { path -> TailPosition? in
            guard let bytes = BoundedRead.contents(of: path, limit: 4096) else { return nil }
            return try? JSONDecoder().decode(TailPosition.self, from: Data(bytes))
        }
        let tailer = Tailer(path: options.logPath, fromStart: options.fromStart, resume: resume)
        let events = options.eventsPath.map { path in
            Tailer(path: path, fromStart: options.fromStart, resume: options.eventsCheckpointPath.flatMap(Self.position))
        }
        let started = clock()
        var nextTick = started
        refreshMaintenance()
        refreshPools()
        // Each pass reads one bounded batch, then looks at the clock and the stop signal: a flood of
        // lines, or input without newlines, never keeps the deadline, SIGTERM or the status file waiting.
        while true {
            batchTime = clock()
            tailer.readAvailable { line in handle(line) }
            let now = clock()
            if let events { readEvents(events, now: now, all: options.once) }
            drainInbox()
            updateTailMetrics(tailer, now: now)
            if now >= nextTick {
                if !options.once { periodic(now: now) }
                syncMetrics()
                writeStatus(tailer, events: events)
                nextTick = now + 1
            }
            // A file is followed; standard input ends when its writer closes it.
            if tailer.finished { break }
            if options.once && options.logPath != "-" && tailer.caughtUp {
                tailer.flushPartialLine { line in handle(line) }
                break
            }
            if stop() { break }
            if let duration = options.duration, !(now - started < duration) { break }
            // Short waits: a stop() that is not a signal (a signal ends the wait at once) is seen
            // within 100 ms, and the deadline is not overslept.
            let deadline = options.duration.map { started + $0 - now } ?? 0.1
            if tailer.caughtUp { tailer.wait(timeout: max(0.005, min(0.1, nextTick - now, deadline))) }
        }
        // What was written up to the stop is still counted: one more bounded batch (~25 ms at most).
        if !tailer.finished {
            batchTime = clock()
            tailer.readAvailable { line in handle(line) }
        }
        if let events { readEvents(events, now: clock(), all: true) }
        drainInbox()
        updateTailMetrics(tailer, now: clock())
        writeStatus(tailer, events: events)
        summary.byPool = byPool()
        summary.rotations = tailer.counters.rotations
        summary.truncations = tailer.counters.truncations
        summary.malformed += tailer.counters.tooLong
        delivery?.finish(timeout: Self.deliveryGrace)
        summary.deliveries = delivery?.snapshot() ?? [:]
        syncMetrics()
        return summary
    }

    private func handle(_ line: UnsafeRawBufferPointer) {
        guard let record = LineParser.parse(line) else {
            if !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) {
                summary.malformed += 1
                metrics?.observeMalformed()
            }
            return
        }
        summary.lines += 1
        poolCounts[Int(record.pool.rawValue)] += 1
        if record.status >= 500 { summary.status5xx += 1 } else if record.status >= 400 { summary.status4xx += 1 }
        let retried = rules.isRetried(record)
        if retried { summary.retried += 1 }
        if let metrics {
            metrics.observe(record, retried: retried, failover: rules.isFailover(record))
            if record.time > 0 { lastLineTime = record.time }
        }
        if rules.isIgnored(line, uri: record.uri) {
            summary.ignored += 1
            return
        }
        // A preview request went where its client asked: it says nothing about the live routing.
        if record.previewRouted {
            summary.previewRouted += 1
            return
        }
        let detections = analyzer.observe(record, at: batchTime) {
            // Clipped here, before anything keeps them: every message and the JSON get at most this.
            SampleRequest(time: record.time, method: LineParser.text(line, record.method, limit: 16),
                          uri: LineParser.text(line, record.uri, limit: 200), status: record.status,
                          upstreamStatus: LineParser.text(line, record.upstreamStatus, limit: 40), pool: record.pool.name)
        }
        for detection in detections {
            for notification in book.process(detection, maintenance: maintenance) { tell(notification) }
        }
    }

    /// One batch of the events file (`all`: until it is read to its end), then deaths past their
    /// removal grace are decided: on every pass, so an alert waits at most a pass for its grace.
    private func readEvents(_ events: Tailer, now: Double, all: Bool) {
        repeat {
            events.readAvailable { line in
                guard let event = ContainerEvent.parse(line) else { return }
                metrics?.containerEvent(event)
                for detection in containerEvents.observe(event, live: livePool(), at: now) {
                    for notification in book.process(detection, maintenance: maintenance) { tell(notification) }
                }
            }
        } while all && !events.caughtUp
        if all { events.flushPartialLine { _ in } }
        // A file read once has no later removal to wait for.
        for detection in (options.once ? containerEvents.settleAll() : []) + containerEvents.tick(now: now) {
            for notification in book.process(detection, maintenance: maintenance) { tell(notification) }
        }
    }

    /// The route's live pool, else the one the log's last request named.
    private func livePool() -> String? {
        if let pool = live?() { return pool }
        return analyzer.liveFromLog
    }

    private static func position(_ path: String) -> TailPosition? {
        guard let bytes = BoundedRead.contents(of: path, limit: 4096) else { return nil }
        return try? JSONDecoder().decode(TailPosition.self, from: Data(bytes))
    }

    private func byPool() -> [String: Int] {
        var result: [String: Int] = [:]
        for tag in PoolTag.allCases where poolCounts[Int(tag.rawValue)] > 0 {
            result[tag == .none ? "-" : tag.name] = poolCounts[Int(tag.rawValue)]
        }
        return result
    }

    private func periodic(now: Double) {
        refreshMaintenance()
        rotateIfDue(now: now)
        for detection in analyzer.tick(now: now) {
            for notification in book.process(detection, maintenance: maintenance) { tell(notification) }
        }
        let current: (AlertKind, String) -> Detection? = { [containerEvents, analyzer] kind, subject in
            kind.isContainerEvent ? containerEvents.current(kind, subject: subject, at: now) : analyzer.current(kind, at: now)
        }
        for notification in book.tick(now: now, current: current, maintenance: maintenance) {
            tell(notification)
        }
    }

    /// Rotates the followed log when it is past the policy's size and tells the writer to reopen. The
    /// tailer notices the rename on its next read and finishes the old file first.
    private func rotateIfDue(now: Double) {
        guard let policy = options.rotation, let reopen, options.logPath != "-", now >= rotationRetryAt else { return }
        do {
            let outcome = try LogRotation.rotate(options.logPath, policy: policy, files: rotationFiles)
            if outcome.rotated { summary.rotated += 1 }
            if outcome.reopen && !reopen() {
                log("\(options.logPath) was renamed but nginx could not be signalled to reopen it; retrying in 30 s")
                rotationRetryAt = now + 30
            }
        } catch {
            log("\(error); retrying in 30 s")
            rotationRetryAt = now + 30
        }
    }

    private func tell(_ notification: AlertNotification) {
        let record = AlertRecord(kind: notification.detection.kind, state: notification.state,
                                 at: AlertMessage.iso(notification.detection.at), pool: notification.detection.pool,
                                 live: notification.detection.live,
                                 summary: AlertMessage.headline(notification, settings: settings),
                                 figures: notification.detection.figures, suppressed: notification.suppressed)
        summary.alerts.append(record)
        emit(notification, record)
        metrics?.alert(record.kind, firing: book.isFiring(record.kind))
        if !notification.suppressed, let delivery {
            delivery.send(notification, settings: settings)
            metrics?.alertSent(record.kind)
        }
    }

    /// After a read: the counts go to the registry, and the tail lag is 0 once everything written was
    /// read, else how old the last line read is.
    private func updateTailMetrics(_ tailer: Tailer, now: Double) {
        guard let metrics else { return }
        metrics.flush()
        metrics.tooLong(total: tailer.counters.tooLong)
        if tailer.caughtUp {
            metrics.tailLag(0)
        } else if lastLineTime > 0 {
            metrics.tailLag(now - lastLineTime)
        }
    }

    /// The figures kept elsewhere: delivery failures and the pools' weights.
    private func syncMetrics() {
        guard let metrics else { return }
        if let delivery { metrics.deliveries(delivery.snapshot()) }
        refreshPools()
    }

    /// Rereads the live pool and weights when their file changed; a file that is gone removes the metric.
    private func refreshPools() {
        guard let metrics else { return }
        guard let path = options.poolsPath, let stamp = Self.stamp(path) else {
            if poolsStamp != -1 { metrics.poolWeights(nil) }
            poolsStamp = -1
            return
        }
        guard stamp != poolsStamp else { return }
        poolsStamp = stamp
        metrics.poolWeights(PoolWeights.load(path: path))
    }

    /// Modification time plus size: changes when the file is rewritten or replaced.
    private static func stamp(_ path: String) -> Double? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9 + Double(st.st_size)
    }

    /// Maintenance comes from the file `bgctl maintenance` writes, else the spec's default; it is
    /// reread when the file changes, so a running watcher picks it up.
    private func refreshMaintenance() {
        guard let path = options.maintenancePath else { return }
        var st = stat()
        guard stat(path, &st) == 0 else {
            maintenance = options.maintenanceDefault
            maintenanceStamp = -1
            return
        }
        let stamp = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9 + Double(st.st_size)
        // A file that does not read (half-written by hand, garbage) keeps the current state.
        guard stamp != maintenanceStamp, let state = MaintenanceState.load(path: path) else { return }
        maintenanceStamp = stamp
        maintenance = state.on
    }

    private func writeStatus(_ tailer: Tailer, events: Tailer?) {
        if let path = options.checkpointPath, let position = tailer.position, let data = try? JSONEncoder().encode(position) {
            try? AtomicFile.write(data, to: path, mode: 0o600)
        }
        if let path = options.eventsCheckpointPath, let position = events?.position, let data = try? JSONEncoder().encode(position) {
            try? AtomicFile.write(data, to: path, mode: 0o600)
        }
        guard let path = options.statusPath else { return }
        summary.byPool = byPool()
        let status = WatcherStatus(updatedAt: AlertMessage.iso(clock()), lines: summary.lines, malformed: summary.malformed,
                                   figures: analyzer.figures, firing: AlertKind.allCases.filter { book.isFiring($0) },
                                   maintenance: maintenance, deliveries: delivery?.snapshot() ?? [:],
                                   rotated: options.rotation != nil && reopen != nil ? summary.rotated : nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // A failed write is retried at the next status tick; the watch goes on either way.
        if let data = try? encoder.encode(status) { try? AtomicFile.write(data, to: path, mode: 0o600) }
    }
}
