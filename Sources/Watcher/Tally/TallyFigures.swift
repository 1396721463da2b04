/// What a tally of the proxy's log saw: the figures a deploy judges a release by.
public struct TallyFigures: Sendable, Equatable {
    public var requests: Int
    public var errors: Int
    public var retried: Int
    /// Requests answered by a pool other than the live one.
    public var failovers: Int
    /// 95th percentile of request_time, in seconds (within `DurationHistogram`'s precision); nil
    /// without samples.
    public var p95: Double?

    public init(requests: Int = 0, errors: Int = 0, retried: Int = 0, failovers: Int = 0, p95: Double? = nil) {
        self.requests = requests
        self.errors = errors
        self.retried = retried
        self.failovers = failovers
        self.p95 = p95
    }

    /// Percent of requests that were errors; 0 without requests.
    public var errorRate: Double { requests == 0 ? 0 : Double(errors) * 100 / Double(requests) }
    /// Percent of requests retried upstream; 0 without requests.
    public var retryRate: Double { requests == 0 ? 0 : Double(retried) * 100 / Double(requests) }
}

/// One pool's traffic in a tally.
public struct PoolTally: Sendable, Equatable {
    public var requests: Int
    /// The caller's `now` at the read that last found a line for this pool; nil before any.
    public var lastSeen: Double?

    public init(requests: Int = 0, lastSeen: Double? = nil) {
        self.requests = requests
        self.lastSeen = lastSeen
    }
}

/// One pool's part of a tally, to compare a canary with its baseline over the same lines: what it
/// answered, and what nginx sent it first. Ignored paths are left out, as from `TallyFigures`.
public struct PoolFigures: Sendable, Equatable {
    /// Requests whose final response came from this pool.
    public var requests: Int
    /// Of `requests`, errors as `LogRules` defines them.
    public var errors: Int
    /// Requests nginx sent to this pool first, whichever pool answered them in the end.
    public var sent: Int
    /// Of `sent`, those nginx retried on another pool: this pool failed them, whatever the client got.
    public var retriedAway: Int
    /// 95th percentile of request_time over `requests`, in seconds; nil without samples.
    public var p95: Double?

    public init(requests: Int = 0, errors: Int = 0, sent: Int = 0, retriedAway: Int = 0, p95: Double? = nil) {
        self.requests = requests
        self.errors = errors
        self.sent = sent
        self.retriedAway = retriedAway
        self.p95 = p95
    }

    /// Percent of `requests` that were errors; 0 without requests.
    public var errorRate: Double { requests == 0 ? 0 : Double(errors) * 100 / Double(requests) }
    /// Percent of `sent` that nginx retried on another pool; 0 when none was sent.
    public var retryRate: Double { sent == 0 ? 0 : Double(retriedAway) * 100 / Double(sent) }
}
