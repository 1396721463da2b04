import Foundation

/// The renewal schedule kept on disk (acme/renewal.json): failures in a row and when the next attempt
/// may start, so a failing issuance is not retried on every tick, nor at once after a restart.
public struct RenewalRecord: Codable, Sendable, Equatable {
    public var failures = 0
    public var lastAttempt: String?
    public var nextAttempt: String?
    /// The last failure as bgctl words it (the CA's detail sanitized; never a key or a body).
    public var lastError: String?
    /// True when the last failure was the CA's rate limit (`rateLimited`).
    public var rateLimited: Bool?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case failures
        case lastAttempt = "last_attempt"
        case nextAttempt = "next_attempt"
        case lastError = "last_error"
        case rateLimited = "rate_limited"
    }
}

/// When to renew and how long to wait after a failure. Pure: time is a parameter.
public enum RenewalPolicy {
    /// Renew once this much of the validity remains: 30 days, or a third of the lifetime for
    /// certificates that live shorter than 90 days (so a 6-day certificate renews with 2 days left).
    public static func renewalWindow(notBefore: Date, notAfter: Date) -> TimeInterval {
        let lifetime = max(notAfter.timeIntervalSince(notBefore), 0)
        return min(30 * 86_400, lifetime / 3)
    }

    public static func renewAt(notBefore: Date, notAfter: Date) -> Date {
        notAfter.addingTimeInterval(-renewalWindow(notBefore: notBefore, notAfter: notAfter))
    }

    /// Alerts and `status` treat a certificate with this little time left as urgent.
    public static let urgentDays = 7

    /// Waits after the 1st, 2nd, … failure in a row: 5 min, 15 min, 1 h, 3 h, then every 12 h. Let's
    /// Encrypt allows 5 failed validations per name per account per hour; at this pace a failing name
    /// uses 3 in its first hour and 1 per 12 hours after a day.
    public static let backoff: [TimeInterval] = [300, 900, 3_600, 10_800, 43_200]

    /// The schedule after one more failure at `now`; `retryAfter` (the CA's Retry-After) is honoured
    /// when longer than the schedule's wait, capped at 7 days. With a certificate serving (`notAfter`),
    /// no wait is longer than a quarter of its remaining validity (at least 5 minutes): a CA's long
    /// Retry-After never pushes the next attempt past the expiry.
    public static func failed(_ record: RenewalRecord, at now: Date, error: String, retryAfter: Double?, rateLimited: Bool,
                              notAfter: Date? = nil) -> RenewalRecord {
        var next = record
        next.failures = min(max(record.failures, 0), 1_000) + 1
        var wait = backoff[min(next.failures, backoff.count) - 1]
        if let retryAfter, retryAfter.isFinite, retryAfter > wait { wait = min(retryAfter, maxWait) }
        if let notAfter {
            wait = min(wait, max(backoff[0], notAfter.timeIntervalSince(now) / 4))
        }
        next.lastAttempt = ISOTime.format(now)
        next.nextAttempt = ISOTime.format(now.addingTimeInterval(wait))
        next.lastError = error
        next.rateLimited = rateLimited ? true : nil
        return next
    }

    /// The longest wait the schedule keeps (a CA's Retry-After included).
    public static let maxWait: TimeInterval = 7 * 86_400

    public static func succeeded(at now: Date) -> RenewalRecord {
        var record = RenewalRecord()
        record.lastAttempt = ISOTime.format(now)
        return record
    }

    /// True when the schedule lets an attempt start at `now`.
    /// A next attempt further away than any wait the schedule keeps (a clock that was wrong when it was
    /// written, a hand-edited file) is no reason to wait.
    public static func mayAttempt(_ record: RenewalRecord, at now: Date) -> Bool {
        guard let next = record.nextAttempt.flatMap(ISOTime.parse) else { return true }
        return now >= next || next.timeIntervalSince(now) > maxWait + 3_600
    }

    /// What the current pair needs at `now`: nothing, a renewal, or a first issuance (none, other names,
    /// another directory, or no longer valid).
    public enum Need: Sendable, Equatable {
        case none(renewAt: Date)
        case renewal
        case issuance(reason: String)
    }

    public static func need(current: CertificateStore.Current?, valid: Bool, names: [String], directory: String, at now: Date) -> Need {
        guard let current else { return .issuance(reason: "no certificate yet") }
        guard Set(current.names) == Set(names) else { return .issuance(reason: "proxy.hosts changed") }
        guard current.directory == directory else { return .issuance(reason: "proxy.tls.acme.directory changed") }
        guard valid, let notBefore = ISOTime.parse(current.notBefore), let notAfter = ISOTime.parse(current.notAfter), now < notAfter else {
            return .issuance(reason: "the certificate is no longer valid")
        }
        let at = renewAt(notBefore: notBefore, notAfter: notAfter)
        return now >= at ? .renewal : .none(renewAt: at)
    }
}
