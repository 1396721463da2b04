import Foundation
import HTTPClient

/// Where alerts go. The URL is a secret: it is used for the request and never printed; messages name
/// the target (`slack`, `webhook 1`) instead.
public struct AlertTarget: Sendable {
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
}

/// What to do after one delivery attempt. Pure, so the policy is tested without a network.
public enum DeliveryDecision: Sendable, Equatable {
    case delivered
    case retry(after: Double, reason: String)
    /// Not retried (400, 403, 404, 410, ...): the request itself is wrong or the webhook is gone.
    case permanent(reason: String)

    public static let maxAttempts = 4

    public static func decide(status: Int?, body: String, retryAfter: String?, transportError: String?, attempt: Int) -> DeliveryDecision {
        let backoff = min(30, 0.5 * pow(2, Double(attempt - 1)))
        let exhausted = attempt >= maxAttempts
        if let transportError {
            return exhausted ? .permanent(reason: "\(transportError) (gave up after \(attempt) attempts)")
                : .retry(after: backoff, reason: transportError)
        }
        guard let status else { return .permanent(reason: "no response") }
        let detail = body.trimmingCharacters(in: .whitespacesAndNewlines).prefix(100)
        switch status {
        case 200..<300:
            return .delivered
        case 429:
            let wait = retryAfter.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }.map { min(max($0, 0), 120) } ?? backoff
            return exhausted ? .permanent(reason: "HTTP 429 rate limited (gave up after \(attempt) attempts)")
                : .retry(after: wait, reason: "HTTP 429 rate limited")
        case 500..<600:
            return exhausted ? .permanent(reason: "HTTP \(status) \(detail) (gave up after \(attempt) attempts)")
                : .retry(after: backoff, reason: "HTTP \(status) \(detail)")
        default:
            var hint = ""
            switch (status, String(detail)) {
            case (404, "no_service"): hint = ": the webhook was revoked or disabled; create a new one"
            case (404, "channel_not_found"): hint = ": the channel does not exist"
            case (410, _): hint = ": the channel was archived"
            case (403, _): hint = ": the workspace forbids this (action_prohibited)"
            case (400, "invalid_payload"): hint = ": Slack rejected the message body"
            default: break
            }
            return .permanent(reason: "HTTP \(status) \(detail)\(hint)")
        }
    }
}

/// Sends payloads in the background, one worker and one bounded queue per target, so a slow or dead
/// target never blocks tailing or the other targets.
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
    private let statsLock = NSLock()
    private var stats: [String: Stats] = [:]

    public init(targets: [AlertTarget], queueLimit: Int = 256, timeout: Double = 5, log: @escaping @Sendable (String) -> Void) {
        self.workers = targets.map(Worker.init)
        self.queueLimit = queueLimit
        self.timeout = timeout
        self.log = log
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
                json: { AlertMessage.json(announcement.json) })
    }

    private func enqueue(slack: () -> [UInt8], json: () -> [UInt8]) {
        for worker in workers {
            let payload = worker.target.format == .slack ? slack() : json()
            worker.condition.lock()
            if worker.queue.count >= queueLimit {
                worker.queue.removeFirst()
                update(worker.target.name) { $0.dropped += 1 }
                log("alert delivery to \(worker.target.name): queue full, dropped the oldest message")
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
                log("alert delivery to \(worker.target.name): \(left) message(s) not sent before exit")
            }
        }
    }

    private func update(_ name: String, _ change: (inout Stats) -> Void) {
        statsLock.lock()
        change(&stats[name, default: Stats()])
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
                                   transportError: nil, attempt: attempt)
            case .failure(let error):
                decision = .decide(status: nil, body: "", retryAfter: nil, transportError: error.message, attempt: attempt)
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
                log("alert delivery to \(target.name) failed: \(reason)")
                return
            case .retry(let after, let reason):
                log("alert delivery to \(target.name): \(reason); retrying in \(String(format: "%.1f", after)) s")
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
