/// The kinds of alert the watcher raises.
public enum AlertKind: String, Sendable, Codable, CaseIterable {
    /// 5xx (and 4xx with count_4xx) over the threshold in the window.
    case errorRate = "error_rate"
    /// Requests failing on one pool and retried on the other, over the threshold in the window.
    case upstreamRetries = "upstream_retries"
    /// Requests answered by a pool other than the live one.
    case failover
    /// The watcher moved the route: the live pool stopped answering its health path, the other did.
    case routeMoved = "route_moved"
    /// proxy.tls.acme: a renewal failed, or the certificate expires within 7 days (resolved: renewed).
    case certificate
    /// A pool container that is not the live pool died, was OOM-killed or turned unhealthy: a failover
    /// has nothing to fail over to (resolved: it runs, or is healthy, again).
    case idlePoolDown = "idle_pool_down"
    /// The live pool's container died, was OOM-killed or turned unhealthy (nginx serves from the other).
    case livePoolDown = "live_pool_down"
    /// A service's container died 3 times within 60 s (resolved: it ran 60 s without dying).
    case crashLoop = "crash_loop"
    /// The proxy's container exited and is being restarted (resolved: it started again).
    case proxyRestarted = "proxy_restarted"

    /// Alerts decided from the engine's container events rather than from the access log.
    public var isContainerEvent: Bool {
        switch self {
        case .idlePoolDown, .livePoolDown, .crashLoop, .proxyRestarted: return true
        case .errorRate, .upstreamRetries, .failover, .routeMoved, .certificate: return false
        }
    }
}

/// The window's figures at the moment of a detection, for messages.
public struct WindowFigures: Sendable, Equatable, Codable {
    public var requests: Int
    public var errors: Int
    public var retried: Int
    public var errorRate: Double
    public var retryRate: Double
    public var threshold: Double
    public var windowRequests: Int
    public var windowSeconds: Double

    enum CodingKeys: String, CodingKey {
        case requests, errors, retried, threshold
        case errorRate = "error_rate"
        case retryRate = "retry_rate"
        case windowRequests = "window_requests"
        case windowSeconds = "window_seconds"
    }
}

/// A failing request kept as an example for messages.
public struct SampleRequest: Sendable, Equatable, Codable {
    public var time: Double
    public var method: String
    public var uri: String
    public var status: Int
    public var upstreamStatus: String
    public var pool: String

    enum CodingKeys: String, CodingKey {
        case time, method, uri, status, pool
        case upstreamStatus = "upstream_status"
    }
}

/// A change of condition: `firing` true when it starts, false when it ends.
public struct Detection: Sendable, Equatable {
    public var kind: AlertKind
    public var firing: Bool
    public var at: Double
    public var figures: WindowFigures
    /// The pool concerned: the failing pool for rates, the pool taking traffic for a failover.
    public var pool: String
    /// The live pool according to the log.
    public var live: String
    public var samples: [SampleRequest]
    /// What happened, for detections that are not about requests (a certificate's renewal): text bgctl
    /// wrote, escaped like every other value where it goes.
    public var detail = ""
    /// What the alert is about when one kind can fire for several things at once (a crash-looping
    /// service's name, a pool's): each subject fires, repeats and resolves on its own. "" for the rest.
    public var subject = ""
}

extension Detection {
    /// The watcher moved traffic from `from` to `to` (firing), or a person moved the route after it (not firing).
    public static func routeMoved(from: String, to: String, firing: Bool, at: Double) -> Detection {
        Detection(kind: .routeMoved, firing: firing, at: at,
                  figures: WindowFigures(requests: 0, errors: 0, retried: 0, errorRate: 0, retryRate: 0, threshold: 0,
                                         windowRequests: 0, windowSeconds: 0),
                  pool: to, live: from, samples: [])
    }

    /// proxy.tls.acme's certificate: a failed renewal or a close expiry (firing), renewed (resolved).
    public static func certificate(firing: Bool, detail: String, at: Double) -> Detection {
        Detection(kind: .certificate, firing: firing, at: at,
                  figures: WindowFigures(requests: 0, errors: 0, retried: 0, errorRate: 0, retryRate: 0, threshold: 0,
                                         windowRequests: 0, windowSeconds: 0),
                  pool: "", live: "", samples: [], detail: detail)
    }
}

extension WindowFigures {
    /// For detections that are not about requests.
    public static let none = WindowFigures(requests: 0, errors: 0, retried: 0, errorRate: 0, retryRate: 0, threshold: 0,
                                           windowRequests: 0, windowSeconds: 0)
}

/// The pure decision core: records and the time go in, detections come out. No clock, no I/O.
public struct Analyzer: Sendable {
    public let settings: WatchSettings
    /// Errors, retries and failovers are what these rules say; ignored paths never reach the analyzer.
    public let rules: LogRules
    public private(set) var window: SlidingWindow
    private var firing: Set<AlertKind> = []
    /// Times of recent requests answered by a pool other than the live one, oldest first from `failoverHead`.
    private var failoverRecent: [Double] = []
    private var failoverHead = 0
    private var liveStreak = 0
    private var lastFailoverPool = ""
    private var lastLive = ""
    private var lastErrorPool = ""
    public private(set) var samples: [SampleRequest] = []

    public init(settings: WatchSettings) {
        self.settings = settings
        self.rules = LogRules(settings: settings)
        self.window = SlidingWindow(capacity: settings.window, seconds: settings.windowSeconds)
    }

    /// Takes one request. `sample` builds its display form; it is called only for failing requests.
    public mutating func observe(_ record: LogRecord, at now: Double, sample: () -> SampleRequest) -> [Detection] {
        let time = record.time > 0 ? record.time : now
        let error = rules.isError(status: record.status)
        let retried = rules.isRetried(record)
        window.expire(now: time)
        window.add(time: time, error: error, retried: retried)
        if record.live != .none { lastLive = record.live.name }
        if error || retried {
            let s = sample()
            samples.append(s)
            if samples.count > 5 { samples.removeFirst() }
            lastErrorPool = s.pool
        }
        var detections = evaluateRates(at: time)
        detections += observeFailover(record, at: time)
        return detections
    }

    /// Time passes without requests: the windows empty and conditions may end.
    public mutating func tick(now: Double) -> [Detection] {
        window.expire(now: now)
        var detections = evaluateRates(at: now)
        if firing.contains(.failover), failoverHead < failoverRecent.count, let last = failoverRecent.last,
           now - last >= settings.failoverSeconds, liveStreak > 0 {
            detections.append(endFailover(at: now))
        }
        return detections
    }

    public var figures: WindowFigures {
        WindowFigures(requests: window.count, errors: window.errors, retried: window.retried,
                      errorRate: window.errorRate, retryRate: window.retryRate,
                      threshold: settings.errorRateThreshold, windowRequests: settings.window,
                      windowSeconds: settings.windowSeconds)
    }

    public func isFiring(_ kind: AlertKind) -> Bool { firing.contains(kind) }

    /// The live pool the last request's `live` field named; nil before any did.
    public var liveFromLog: String? { lastLive.isEmpty ? nil : lastLive }

    /// The condition as it stands now, for repeats of a firing alert.
    public func current(_ kind: AlertKind, at now: Double) -> Detection? {
        guard firing.contains(kind) else { return nil }
        return detection(kind, firing: true, at: now, pool: kind == .failover ? lastFailoverPool : lastErrorPool)
    }

    private mutating func evaluateRates(at now: Double) -> [Detection] {
        var detections: [Detection] = []
        evaluate(.errorRate, rate: window.errorRate, at: now, into: &detections)
        evaluate(.upstreamRetries, rate: window.retryRate, at: now, into: &detections)
        return detections
    }

    private mutating func evaluate(_ kind: AlertKind, rate: Double, at now: Double, into detections: inout [Detection]) {
        let enough = window.count >= settings.minRequests
        let above = enough && rate >= settings.errorRateThreshold
        // Resolved when the rate is back under the threshold, or when the window emptied.
        let below = (enough && rate < settings.errorRateThreshold) || window.count == 0
        if above && !firing.contains(kind) {
            firing.insert(kind)
            detections.append(detection(kind, firing: true, at: now, pool: lastErrorPool))
        } else if below && firing.contains(kind) {
            firing.remove(kind)
            detections.append(detection(kind, firing: false, at: now, pool: lastErrorPool))
        }
    }

    private mutating func observeFailover(_ record: LogRecord, at now: Double) -> [Detection] {
        switch rules.answer(record) {
        case .unknown:
            return []
        case .live:
            liveStreak += 1
            // Debounced: the live pool must answer a run of requests before the failover counts as over,
            // so pools alternating request by request make one alert, not hundreds.
            if firing.contains(.failover) && liveStreak >= max(settings.failoverRequests * 3, 10) {
                return [endFailover(at: now)]
            }
            return []
        case .failover:
            liveStreak = 0
            lastFailoverPool = record.pool.name
            failoverRecent.append(now)
            while failoverHead < failoverRecent.count, failoverRecent[failoverHead] < now - settings.failoverSeconds {
                failoverHead += 1
            }
            if failoverHead > 4096 {
                failoverRecent.removeFirst(failoverHead)
                failoverHead = 0
            }
            if !firing.contains(.failover) && failoverRecent.count - failoverHead >= settings.failoverRequests {
                firing.insert(.failover)
                return [detection(.failover, firing: true, at: now, pool: lastFailoverPool)]
            }
            return []
        }
    }

    private mutating func endFailover(at now: Double) -> Detection {
        firing.remove(.failover)
        failoverRecent.removeAll(keepingCapacity: true)
        failoverHead = 0
        return detection(.failover, firing: false, at: now, pool: lastFailoverPool)
    }

    private func detection(_ kind: AlertKind, firing: Bool, at now: Double, pool: String) -> Detection {
        Detection(kind: kind, firing: firing, at: now, figures: figures, pool: pool, live: lastLive, samples: samples)
    }
}
