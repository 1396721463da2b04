import Foundation
import NginxConfigGen
import Support
import Watcher

/// What one canary step saw in the proxy's log: the canary pool's and the baseline pool's figures over
/// the same lines, from the step's reload on.
public struct CanaryFigures: Sendable, Equatable {
    public var canaryPool: Pool
    public var canary: PoolFigures
    public var baseline: PoolFigures
    public var seconds: Double

    public init(canaryPool: Pool, canary: PoolFigures, baseline: PoolFigures, seconds: Double = 0) {
        self.canaryPool = canaryPool
        self.canary = canary
        self.baseline = baseline
        self.seconds = seconds
    }

    public var baselinePool: Pool { canaryPool.other }

    /// Flat, for a history entry: `canary_requests`, `canary_error_rate`, `canary_p95_ms`, the same
    /// for `baseline_`, `canary_sent`, `canary_retried`, `canary_retry_rate`, and `seconds`.
    public var dictionary: [String: Double] {
        var d: [String: Double] = ["seconds": (seconds * 10).rounded() / 10]
        for (prefix, f) in [("canary", canary), ("baseline", baseline)] {
            d["\(prefix)_requests"] = Double(f.requests)
            d["\(prefix)_errors"] = Double(f.errors)
            d["\(prefix)_error_rate"] = (f.errorRate * 100).rounded() / 100
            d["\(prefix)_sent"] = Double(f.sent)
            d["\(prefix)_retried"] = Double(f.retriedAway)
            d["\(prefix)_retry_rate"] = (f.retryRate * 100).rounded() / 100
            if let p95 = f.p95 { d["\(prefix)_p95_ms"] = (p95 * 1000).rounded() }
        }
        return d
    }

    /// "green 1 error in 52 (1.9%), p95 12 ms; blue 3 in 998 (0.3%), p95 11 ms over 60 s".
    public var summary: String {
        func part(_ pool: Pool, _ f: PoolFigures) -> String {
            var text = "\(pool.rawValue) \(f.errors) error\(f.errors == 1 ? "" : "s") in \(f.requests) (\(Percent.format(f.errorRate)))"
            if f.retriedAway > 0 { text += ", \(f.retriedAway) retried elsewhere" }
            if let p95 = f.p95 { text += ", p95 \(CanaryPolicy.ms(p95))" }
            return text
        }
        return "\(part(canaryPool, canary)); \(part(baselinePool, baseline)) over \(Int(seconds.rounded())) s"
    }
}

/// The rules that judge a canary against its baseline at each step. Pure: figures in, decision out.
///
/// - Nothing is judged until nginx has sent the canary `minRequests` requests: a handful of requests
///   says nothing about a rate.
/// - Errors: the canary's error rate may exceed the baseline's by at most `maxErrorDiff` percentage
///   points. Comparing with the baseline over the same interval keeps a shared cause (a database
///   hiccup, a bad client) from failing the release.
/// - Retries: requests the canary failed and nginx retried on the baseline reach the client as
///   successes, so the error rate does not see them; the share of the canary's requests that were
///   retried elsewhere may exceed the baseline's share by at most `maxRetryDiff` points.
/// - Latency: the canary's p95 may be at most `p95Ratio` times the baseline's, and is never too slow
///   below `p95Floor` (1.5 × 4 ms is noise, not a regression). Without baseline samples there is
///   nothing to compare with, and the rule does not apply.
/// Every limit is exclusive: a canary exactly at a limit passes.
public struct CanaryPolicy: Sendable, Equatable {
    public var minRequests: Int
    public var maxErrorDiff: Double
    public var maxRetryDiff: Double
    public var p95Ratio: Double
    public var p95Floor: Double

    public init(minRequests: Int, maxErrorDiff: Double, maxRetryDiff: Double, p95Ratio: Double, p95Floor: Double) {
        self.minRequests = minRequests
        self.maxErrorDiff = maxErrorDiff
        self.maxRetryDiff = maxRetryDiff
        self.p95Ratio = p95Ratio
        self.p95Floor = p95Floor
    }

    public init(spec: DeploymentSpec) {
        let d = spec.deploy
        self.init(minRequests: d.canaryMinRequests, maxErrorDiff: d.canaryMaxErrorDiff, maxRetryDiff: d.canaryMaxRetryDiff,
                  p95Ratio: d.canaryP95Ratio, p95Floor: d.canaryP95Floor.seconds)
    }

    public enum Decision: Sendable, Equatable {
        case pass(String)
        case fail(String)
        /// Too few requests reached the canary to judge it.
        case inconclusive(String)
    }

    /// Rates are computed in floating point: 3 of 100 minus 2 of 100 must be exactly 1 point.
    private static let slack = 1e-9

    public func judge(_ f: CanaryFigures) -> Decision {
        let canary = f.canaryPool.rawValue, baseline = f.baselinePool.rawValue
        guard f.canary.sent >= minRequests else {
            return .inconclusive("nginx sent \(canary) \(f.canary.sent) request\(f.canary.sent == 1 ? "" : "s"), fewer than deploy.canary_min_requests (\(minRequests))")
        }
        let errorDiff = f.canary.errorRate - f.baseline.errorRate
        if errorDiff > maxErrorDiff + Self.slack {
            return .fail("\(canary)'s error rate \(Percent.format(f.canary.errorRate)) (\(f.canary.errors) of \(f.canary.requests)) is \(Self.points(errorDiff)) above \(baseline)'s \(Percent.format(f.baseline.errorRate)) (\(f.baseline.errors) of \(f.baseline.requests)); deploy.canary_max_error_diff is \(Self.points(maxErrorDiff))")
        }
        let retryDiff = f.canary.retryRate - f.baseline.retryRate
        if retryDiff > maxRetryDiff + Self.slack {
            return .fail("\(canary) failed \(f.canary.retriedAway) of the \(f.canary.sent) requests it was sent and nginx retried them on \(baseline) (\(Percent.format(f.canary.retryRate)), \(Self.points(retryDiff)) above \(baseline)'s \(Percent.format(f.baseline.retryRate))); deploy.canary_max_retry_diff is \(Self.points(maxRetryDiff))")
        }
        if let slow = f.canary.p95, let usual = f.baseline.p95 {
            let limit = max(usual * p95Ratio, p95Floor)
            if slow > limit + Self.slack {
                return .fail("\(canary)'s p95 request time \(Self.ms(slow)) is above \(Self.ms(limit)) (\(Self.ratio(p95Ratio)) × \(baseline)'s \(Self.ms(usual))\(usual * p95Ratio < p95Floor ? ", raised to deploy.canary_p95_floor" : ""))")
            }
        }
        return .pass(f.summary)
    }

    static func points(_ value: Double) -> String { String(format: "%.1f points", value) }

    static func ms(_ seconds: Double) -> String { "\(Int((seconds * 1000).rounded())) ms" }

    static func ratio(_ value: Double) -> String { value == value.rounded() ? String(Int(value)) : String(value) }
}

/// One canary step as the history and the notifications tell it.
public struct CanaryStepRecord: Codable, Sendable, Equatable {
    /// The canary's percent of requests during the step.
    public var weight: Int
    /// passed, failed or aborted.
    public var result: String
    public var reason: String
    /// `CanaryFigures.dictionary`.
    public var figures: [String: Double]

    public init(weight: Int, result: String, reason: String, figures: [String: Double]) {
        self.weight = weight
        self.result = result
        self.reason = reason
        self.figures = figures
    }

    /// "5% passed", with the canary's and the baseline's error rates and p95.
    public var summary: String {
        func rate(_ prefix: String) -> String {
            let requests = Int(figures["\(prefix)_requests"] ?? 0)
            var text = "\(Percent.format(figures["\(prefix)_error_rate"] ?? 0)) of \(requests)"
            if let p95 = figures["\(prefix)_p95_ms"] { text += ", p95 \(Int(p95)) ms" }
            return text
        }
        return "\(weight)% \(result): canary \(rate("canary")); baseline \(rate("baseline"))"
    }
}

/// How one canary step ended, with what it saw.
struct CanaryStepVerdict: Sendable, Equatable {
    enum Result: String, Sendable {
        case passed, failed, aborted
    }

    var routing: CanaryRouting
    var result: Result
    var reason: String
    var figures: CanaryFigures

    var record: CanaryStepRecord {
        var flat = figures.dictionary
        flat["weight"] = Double(routing.percent)
        return CanaryStepRecord(weight: routing.percent, result: result.rawValue, reason: reason, figures: flat)
    }
}

/// One canary step's analysis, as planned: `step` is what a dry run lists and the journal names;
/// `run` compares the canary with its baseline in the proxy's log by `CanaryPolicy`.
struct CanaryAnalysis {
    var routing: CanaryRouting
    var seconds: Double
    var step: Step

    /// Compares the canary with the baseline over the same lines until the step's verdict is clear: a
    /// failure as soon as enough requests reached the canary, a pass once `seconds` are up, and while
    /// too few requests reached it, more time up to deploy.extend_limit, after which the step fails —
    /// an unjudged canary is never given more traffic. It reads the signal itself: a signal ends it as aborted.
    func run(_ log: AccessLogReading, on stack: Stack) -> CanaryStepVerdict {
        let ports = stack.ports, spec = stack.spec
        let policy = CanaryPolicy(spec: spec)
        let limit = max(seconds, spec.deploy.extendLimit.seconds)
        let start = ports.clock.monotonic()
        var figures = CanaryFigures(canaryPool: routing.pool, canary: PoolFigures(), baseline: PoolFigures())
        var lastReport = 0.0
        var extending = false
        stack.report(.step("analysing \(routing.pool.rawValue) at \(routing.percent)% against \(routing.baseline.rawValue) for \(Int(seconds)) s"))
        while true {
            ports.clock.sleep(0.25)
            _ = log.read()
            figures = CanaryFigures(canaryPool: routing.pool, canary: log.figures(of: routing.pool), baseline: log.figures(of: routing.baseline),
                                    seconds: ports.clock.monotonic() - start)
            if ports.cancelled() {
                return CanaryStepVerdict(routing: routing, result: .aborted,
                                         reason: "aborted by a signal after \(Int(figures.seconds)) s at \(routing.percent)%: \(figures.summary)", figures: figures)
            }
            switch policy.judge(figures) {
            case .fail(let reason):
                return CanaryStepVerdict(routing: routing, result: .failed, reason: reason, figures: figures)
            case .pass(let reason) where figures.seconds >= seconds:
                return CanaryStepVerdict(routing: routing, result: .passed, reason: reason, figures: figures)
            case .inconclusive(let reason) where figures.seconds >= limit:
                let why = limit > seconds ? "after extending the step to deploy.extend_limit (\(spec.deploy.extendLimit))" : "when the step ended"
                return CanaryStepVerdict(routing: routing, result: .failed, reason: "inconclusive \(why): \(reason)", figures: figures)
            case .inconclusive(let reason) where figures.seconds >= seconds && !extending:
                extending = true
                stack.report(.waiting("extending the \(routing.percent)% step (at most to \(spec.deploy.extendLimit)): \(reason)"))
            default:
                break
            }
            if figures.seconds - lastReport >= 5 {
                lastReport = figures.seconds
                stack.report(.waiting("\(routing.percent)%: \(figures.summary)"))
            }
        }
    }
}
