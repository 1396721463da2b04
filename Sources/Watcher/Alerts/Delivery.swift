import Foundation
import HTTPClient
import Support

/// Where alerts go. The URL and the header values are secrets: they are used for the request and
/// never printed; messages name the target (`slack`, `webhook 1`) instead, and printing the value
/// itself shows `scheme://host/…`.
public struct AlertTarget: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public enum Format: Sendable { case slack, json }

    public var name: String
    public var format: Format
    public var url: String
    public var headers: [(String, String)]

    public init(name: String, format: Format, url: String, headers: [(String, String)] = []) {
        self.name = name
        self.format = format
        self.url = url
        self.headers = headers
    }

    public var description: String { "\(name) → \(Redact.url(url))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        Mirror(self, children: ["name": name, "format": format, "url": Redact.url(url), "headers": headers.map { "\($0.0): …" }])
    }
}

/// A `Retry-After` header as seconds to wait: a non-negative whole number of seconds or an HTTP-date
/// (IMF-fixdate), clamped to 1…300 s. Anything else (`nan`, `inf`, `-5`, `1.5`, garbage) is nil, and
/// the caller's backoff applies.
public enum RetryAfter {
    public static let range: ClosedRange<Double> = 1...300

    public static func seconds(_ value: String, now: Double) -> Double? {
        let text = value.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty, text.utf8.count <= 64 else { return nil }
        if text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            // Nine digits is already years; more is clamped without being converted.
            let wait = text.utf8.count > 9 ? range.upperBound : Double(Int(text) ?? 0)
            return min(max(wait, range.lowerBound), range.upperBound)
        }
        guard let date = httpDate(text) else { return nil }
        return min(max(date - now, range.lowerBound), range.upperBound)
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` as seconds since the epoch; nil for any other form.
    static func httpDate(_ text: String) -> Double? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT" else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let clock = parts[4].split(separator: ":", omittingEmptySubsequences: false)
        guard parts[1].count == 2, parts[3].count == 4, clock.count == 3, clock.allSatisfy({ $0.count == 2 }),
              let day = Int(parts[1]), let monthIndex = months.firstIndex(of: String(parts[2])), let year = Int(parts[3]),
              let hour = Int(clock[0]), let minute = Int(clock[1]), let second = Int(clock[2]),
              (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second) else { return nil }
        let month = monthIndex + 1
        // Days from the civil date (Howard Hinnant's algorithm), as LineParser reads nginx's times.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1
        let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
        return Double(days * 86_400 + hour * 3600 + minute * 60 + second)
    }
}

/// What to do after one delivery attempt. Pure, so the policy is tested without a network.
public enum DeliveryDecision: Sendable, Equatable {
    case delivered
    case retry(after: Double, reason: String)
    /// Not retried (400, 403, 404, 410, ...): the request itself is wrong or the webhook is gone.
    case permanent(reason: String)

    public static let maxAttempts = 4

    /// The error words Slack documents for incoming webhooks: the only response text a reason repeats.
    public static let slackWords: Set<String> = [
        "invalid_payload", "user_not_found", "action_prohibited", "channel_not_found", "channel_is_archived",
        "no_service", "rollup_error", "ok",
    ]

    /// The reason never repeats what the endpoint sent, which may echo the URL's token: a Slack
    /// target's body counts only when it is one of `slackWords`; a generic webhook's never does.
    public static func decide(status: Int?, body: String, retryAfter: String?, transportError: String?, attempt: Int,
                              format: AlertTarget.Format = .slack, now: Double = 0) -> DeliveryDecision {
        let backoff = min(30, 0.5 * pow(2, Double(min(max(attempt, 1), 16) - 1)))
        let exhausted = attempt >= maxAttempts
        if let transportError {
            return exhausted ? .permanent(reason: "\(transportError) (gave up after \(attempt) attempts)")
                : .retry(after: backoff, reason: transportError)
        }
        guard let status else { return .permanent(reason: "no response") }
        let trimmed = body.utf8.count <= 64 ? body.trimmingCharacters(in: .whitespacesAndNewlines) : ""
        let word = format == .slack && slackWords.contains(trimmed) ? trimmed : nil
        let detail = "HTTP \(status)" + (word.map { " \($0)" } ?? "")
        switch status {
        case 200..<300:
            return .delivered
        case 429:
            let wait = retryAfter.flatMap { RetryAfter.seconds($0, now: now) } ?? backoff
            return exhausted ? .permanent(reason: "HTTP 429 rate limited (gave up after \(attempt) attempts)")
                : .retry(after: wait, reason: "HTTP 429 rate limited")
        case 500..<600:
            return exhausted ? .permanent(reason: "\(detail) (gave up after \(attempt) attempts)")
                : .retry(after: backoff, reason: detail)
        default:
            var hint = ""
            switch (status, word) {
            case (404, "no_service"): hint = ": the webhook was revoked or disabled; create a new one"
            case (404, "channel_not_found"): hint = ": the channel does not exist"
            case (410, _) where format == .slack: hint = ": the channel was archived"
            case (403, _) where format == .slack: hint = ": the workspace forbids this (action_prohibited)"
            case (400, "invalid_payload"): hint = ": Slack rejected the message body"
            case (400, "user_not_found"): hint = ": the user named in the message does not exist"
            default: break
            }
            return .permanent(reason: detail + hint)
        }
    }
}

/// Sends payloads in the background, one worker and one bounded queue per target, so a slow or dead
/// target never blocks tailing or the other targets.
/// `@unchecked Sendable`: the one place bgctl runs threads by hand, each driving a blocking libcurl
/// call (C interop); every mutable field is guarded by `statsLock` or the worker's `NSCondition`.
public final class Delivery: @unchecked Sendable {
    public struct Stats: Sendable, Codable, Equatable {
        public var sent = 0
        public var failed = 0
        public var dropped = 0
        public var lastError: String?

        enum CodingKeys: String, CodingKey {
            case sent, failed, dropped
            case lastError = "last_error"
        }
    }

    /// Guarded by `condition` (see `Delivery`).
    private final class Worker: @unchecked Sendable {
        let target: AlertTarget
        let condition = NSCondition()
        var queue: [[UInt8]] = []
        var busy = false
        var stopping = false

        init(target: AlertTarget) {
            self.target = target
        }
    }

    private let workers: [Worker]
    private let client = HTTPClient()
    private let queueLimit: Int
    private let timeout: Double
    private let log: @Sendable (String) -> Void
    private let redactor: Redactor
    private let statsLock = NSLock()
    private var stats: [String: Stats] = [:]

    public init(targets: [AlertTarget], queueLimit: Int = 256, timeout: Double = 5, log: @escaping @Sendable (String) -> Void) {
        self.workers = targets.map(Worker.init)
        self.queueLimit = queueLimit
        self.timeout = timeout
        self.log = log
        self.redactor = Redactor(urls: targets.map(\.url), headerValues: targets.flatMap { $0.headers.map(\.1) })
        for worker in workers {
            stats[worker.target.name] = Stats()
            let thread = Thread { [unowned self] in self.work(worker) }
            thread.name = "bgctl-delivery-\(worker.target.name)"
            thread.start()
        }
    }

    public func send(_ notification: AlertNotification, settings: WatchSettings) {
        enqueue(slack: { AlertMessage.json(AlertMessage.slackPayload(notification, settings: settings)) },
                json: { AlertMessage.json(AlertMessage.webhookPayload(notification, settings: settings)) })
    }

    public func announce(_ announcement: Announcement) {
        enqueue(slack: { AlertMessage.json(AlertMessage.slackPayload(announcement)) },
                json: { announcement.jsonBody })
    }

    private func enqueue(slack: () -> [UInt8], json: () -> [UInt8]) {
        for worker in workers {
            let payload = worker.target.format == .slack ? slack() : json()
            worker.condition.lock()
            if worker.queue.count >= queueLimit {
                worker.queue.removeFirst()
                update(worker.target.name) { $0.dropped += 1 }
                say("alert delivery to \(worker.target.name): queue full, dropped the oldest message")
            }
            worker.queue.append(payload)
            worker.condition.signal()
            worker.condition.unlock()
        }
    }

    public func snapshot() -> [String: Stats] {
        statsLock.lock()
        defer { statsLock.unlock() }
        return stats
    }

    /// Waits until every queue is empty and idle, at most `timeout` seconds; then stops the workers.
    public func finish(timeout: Double) {
        let deadline = Date().addingTimeInterval(timeout)
        for worker in workers {
            worker.condition.lock()
            while (!worker.queue.isEmpty || worker.busy) && Date() < deadline {
                _ = worker.condition.wait(until: min(deadline, Date().addingTimeInterval(0.05)))
            }
            let left = worker.queue.count
            worker.stopping = true
            worker.condition.broadcast()
            worker.condition.unlock()
            if left > 0 {
                update(worker.target.name) { $0.dropped += left }
                say("alert delivery to \(worker.target.name): \(left) message(s) not sent before exit")
            }
        }
    }

    /// Everything the delivery tells goes through here: secrets redacted, hidden characters escaped.
    private func say(_ text: String) {
        log(SafeText.terminal(redactor.apply(text)))
    }

    private func update(_ name: String, _ change: (inout Stats) -> Void) {
        statsLock.lock()
        change(&stats[name, default: Stats()])
        // The stats go into status.json and `--json`: the same rules as the log.
        if let error = stats[name]?.lastError { stats[name]?.lastError = SafeText.terminal(redactor.apply(error), limit: 300) }
        statsLock.unlock()
    }

    private func work(_ worker: Worker) {
        while true {
            worker.condition.lock()
            while worker.queue.isEmpty && !worker.stopping { worker.condition.wait() }
            if worker.stopping && worker.queue.isEmpty {
                worker.condition.unlock()
                return
            }
            let payload = worker.queue.removeFirst()
            worker.busy = true
            worker.condition.unlock()
            deliver(payload, to: worker)
            worker.condition.lock()
            worker.busy = false
            worker.condition.broadcast()
            worker.condition.unlock()
        }
    }

    private func deliver(_ payload: [UInt8], to worker: Worker) {
        let target = worker.target
        var attempt = 0
        while true {
            attempt += 1
            let request = HTTPRequest(method: "POST", url: target.url,
                                      headers: [("Content-Type", "application/json")] + target.headers,
                                      body: payload, timeout: timeout, connectTimeout: min(timeout, 3))
            let decision: DeliveryDecision
            switch client.perform(request) {
            case .success(let response):
                decision = .decide(status: response.status, body: response.bodyText, retryAfter: response.header("Retry-After"),
                                   transportError: nil, attempt: attempt, format: target.format, now: Date().timeIntervalSince1970)
            case .failure(let error):
                decision = .decide(status: nil, body: "", retryAfter: nil, transportError: error.message, attempt: attempt,
                                   format: target.format)
            }
            switch decision {
            case .delivered:
                update(target.name) { $0.sent += 1 }
                return
            case .permanent(let reason):
                update(target.name) {
                    $0.failed += 1
                    $0.lastError = reason
                }
                say("alert delivery to \(target.name) failed: \(reason)")
                return
            case .retry(let after, let reason):
                say("alert delivery to \(target.name): \(reason); retrying in \(String(format: "%.1f", after)) s")
                worker.condition.lock()
                let stopping = worker.stopping
                worker.condition.unlock()
                if stopping && after > 5 {
                    update(target.name) { $0.failed += 1; $0.lastError = reason }
                    return
                }
                Thread.sleep(forTimeInterval: after)
            }
        }
    }
}
