import NginxConfigGen
import Support
import Watcher

/// What the analysis after a deploy's switch saw in the proxy's log: the watcher's tally (one home
/// for the counts and the rates) and how long it looked.
public struct AnalysisFigures: Sendable, Equatable {
    public var tally: TallyFigures
    public var seconds: Double = 0

    public init(requests: Int = 0, errors: Int = 0, retried: Int = 0, failovers: Int = 0, p95: Double? = nil, seconds: Double = 0) {
        self.init(TallyFigures(requests: requests, errors: errors, retried: retried, failovers: failovers, p95: p95), seconds: seconds)
    }

    public init(_ tally: TallyFigures, seconds: Double = 0) {
        self.tally = tally
        self.seconds = seconds
    }

    public var requests: Int { tally.requests }
    public var errors: Int { tally.errors }
    public var retried: Int { tally.retried }
    /// Requests answered by a pool other than the live one.
    public var failovers: Int { tally.failovers }
    /// 95th percentile of request_time, in seconds; nil without samples.
    public var p95: Double? { tally.p95 }
    public var errorRate: Double { tally.errorRate }
    public var retryRate: Double { tally.retryRate }

    public var dictionary: [String: Double] {
        var d: [String: Double] = ["requests": Double(requests), "errors": Double(errors), "error_rate": (errorRate * 100).rounded() / 100,
                                   "retried": Double(retried), "failovers": Double(failovers), "seconds": (seconds * 10).rounded() / 10]
        if let p95 { d["p95_ms"] = (p95 * 1000).rounded() }
        return d
    }

    public var summary: String {
        var text = "\(errors) errors in \(requests) requests (\(Self.pct(errorRate))), \(retried) retried upstream, \(failovers) failovers"
        if let p95 { text += ", p95 \(Int((p95 * 1000).rounded())) ms" }
        return text + " over \(Int(seconds.rounded())) s"
    }

    static func pct(_ value: Double) -> String { Percent.format(value) }
}

/// The rules that judge a release after its switch. Pure: figures in, decision out.
public struct DeployPolicy: Sendable, Equatable {
    public var errorRateThreshold: Double
    public var minRequests: Int
    public var maxP95: Double?
    public var inconclusive: InconclusivePolicy

    public init(errorRateThreshold: Double, minRequests: Int, maxP95: Double?, inconclusive: InconclusivePolicy) {
        self.errorRateThreshold = errorRateThreshold
        self.minRequests = minRequests
        self.maxP95 = maxP95
        self.inconclusive = inconclusive
    }

    public init(spec: DeploymentSpec) {
        self.init(errorRateThreshold: spec.watch.errorRateThreshold, minRequests: spec.watch.minRequests,
                  maxP95: spec.deploy.maxP95?.seconds, inconclusive: spec.deploy.inconclusive)
    }

    public enum Decision: Sendable, Equatable {
        case pass
        case fail(String)
        /// Too few requests to judge.
        case inconclusive
    }

    /// The judgement on what was seen so far. `final`: the analysis time is up; then errors among too
    /// few requests still fail a release when they alone would put min_requests over the threshold.
    public func judge(_ f: AnalysisFigures, final: Bool = false) -> Decision {
        if f.requests < minRequests {
            let floor = Double(f.errors) * 100 / Double(max(minRequests, 1))
            if final && f.errors > 0 && floor >= errorRateThreshold {
                return .fail("\(f.errors) errors in only \(f.requests) requests: even \(minRequests) requests (watch.min_requests) would be \(AnalysisFigures.pct(floor)) ≥ \(AnalysisFigures.pct(errorRateThreshold))")
            }
            return .inconclusive
        }
        if f.errorRate >= errorRateThreshold {
            return .fail("error rate \(AnalysisFigures.pct(f.errorRate)) ≥ \(AnalysisFigures.pct(errorRateThreshold)) (\(f.errors) of \(f.requests))")
        }
        if f.retryRate >= errorRateThreshold {
            return .fail("\(f.retried) of \(f.requests) requests failed upstream and were retried (\(AnalysisFigures.pct(f.retryRate)))")
        }
        if f.failovers > 0 {
            return .fail("\(f.failovers) requests were answered by the other pool (failover)")
        }
        if let maxP95, let p95 = f.p95, p95 > maxP95 {
            return .fail("p95 request time \(Int(p95 * 1000)) ms > \(Int(maxP95 * 1000)) ms")
        }
        return .pass
    }

    public enum Verdict: Sendable, Equatable {
        case promote(String)
        case rollback(String)
        /// Keep analysing (inconclusive with the extend policy and time left).
        case extend
    }

    /// The verdict when the analysis time is up (`canExtend`: the extend limit is not reached yet).
    public func verdict(_ f: AnalysisFigures, canExtend: Bool) -> Verdict {
        switch judge(f, final: true) {
        case .pass:
            return .promote("healthy: \(f.summary)")
        case .fail(let reason):
            return .rollback(reason)
        case .inconclusive:
            let why = "inconclusive: \(f.requests) requests, fewer than watch.min_requests (\(minRequests))"
            switch inconclusive {
            case .promote: return .promote("\(why); deploy.inconclusive is promote")
            case .rollback: return .rollback("\(why); deploy.inconclusive is rollback")
            case .extend: return canExtend ? .extend : .rollback("\(why) after extending to deploy.extend_limit")
            }
        }
    }
}

/// How a deploy's analysis ended. No "keep going": the analysis returns only once it is clear.
public enum ReleaseVerdict: Sendable, Equatable {
    case promote(String)
    case rollback(String)
    /// A signal asked to stop: back to the previous pool, recorded as aborted.
    case aborted(String)
}

/// A deploy's analysis after its switch, as planned: `step` is what a dry run lists and the journal
/// names; `run` reads the proxy's log and judges it by `DeployPolicy`.
struct ReleaseAnalysis {
    var seconds: Double
    var step: Step

    /// Polls the log until the verdict is clear: an early failure, or the time (and any extension) is
    /// up. It reads the signal itself: a signal ends it as aborted.
    func run(_ log: AccessLogReading, on stack: Stack) -> (verdict: ReleaseVerdict, figures: AnalysisFigures) {
        let ports = stack.ports, spec = stack.spec
        let policy = DeployPolicy(spec: spec)
        let start = ports.clock.monotonic()
        var figures = AnalysisFigures()
        var lastReport = 0.0
        stack.report(.step("analysing for \(Int(seconds)) s"))
        while true {
            ports.clock.sleep(0.25)
            figures = log.read()
            figures.seconds = ports.clock.monotonic() - start
            if ports.cancelled() {
                return (.aborted("aborted by a signal after \(Int(figures.seconds)) s of analysis: \(figures.summary)"), figures)
            }
            if case .fail(let reason) = policy.judge(figures) {
                return (.rollback(reason), figures)
            }
            if figures.seconds - lastReport >= 5 {
                lastReport = figures.seconds
                stack.report(.waiting("analysing: \(figures.summary)"))
            }
            guard figures.seconds >= seconds else { continue }
            switch policy.verdict(figures, canExtend: figures.seconds < max(seconds, spec.deploy.extendLimit.seconds)) {
            case .promote(let reason): return (.promote(reason), figures)
            case .rollback(let reason): return (.rollback(reason), figures)
            case .extend: continue
            }
        }
    }
}

extension Stack {
    /// Waits until nginx has nothing in flight to `pool`: no old workers still shutting down and no log
    /// line for the pool for `deploy.drain_quiet`, or until `deploy.drain_timeout`. Says which happened.
    /// `interruptible`: a signal cuts it short.
    func drain(_ pool: Pool, interruptible: Bool) -> String {
        let quiet = spec.deploy.drainQuiet.seconds
        let timeout = spec.deploy.drainTimeout.seconds
        let start = ports.clock.monotonic()
        let log = ports.accessLog(paths.accessLog)
        var seen = 0
        var lastSeen = 0.0
        while true {
            let now = ports.clock.monotonic() - start
            _ = log.read()
            let count = log.requests(to: pool)
            if count != seen {
                seen = count
                lastSeen = now
            }
            let oldWorkers = shuttingDownWorkers()
            if now - lastSeen >= quiet && oldWorkers == 0 {
                return "drained \(pool.rawValue) in \(Waits.seconds(now)): no request to it for \(spec.deploy.drainQuiet) and no old nginx workers"
            }
            if interruptible && ports.cancelled() {
                return "drain of \(pool.rawValue) cut short by a signal"
            }
            if now >= timeout {
                return "drain timeout (\(spec.deploy.drainTimeout)) passed for \(pool.rawValue): \(oldWorkers) old nginx worker(s) still shutting down, last request to it \(Waits.seconds(now - lastSeen)) ago"
            }
            ports.clock.sleep(0.2)
        }
    }
}
