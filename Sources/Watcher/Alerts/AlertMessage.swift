import Foundation
import Support

/// A one-off message that is not an alert: a deploy's verdict with its figures.
public struct Announcement: Sendable {
    public var title: String
    public var ok: Bool
    public var fields: [(String, String)]
    public var detail: String
    /// The generic webhooks' JSON body, serialized when the announcement is made.
    public var jsonBody: [UInt8]

    public init(title: String, ok: Bool, fields: [(String, String)], detail: String, json: [String: Any]) {
        self.title = title
        self.ok = ok
        self.fields = fields
        self.detail = detail
        self.jsonBody = AlertMessage.json(json)
    }
}

/// Turns a notification into what people read: a Slack Block Kit message (with a plain `text`
/// fallback), a generic JSON document, and a one-line log entry. Pure; no URL ever appears here.
public enum AlertMessage {
    public static func headline(_ n: AlertNotification, settings: WatchSettings) -> String {
        let d = n.detection
        let f = d.figures
        let release = settings.releases[d.pool].flatMap { $0.isEmpty ? nil : " (release \($0))" } ?? ""
        let window = "\(f.requests) requests in the last \(seconds(f.windowSeconds)) s (window \(f.windowRequests))"
        switch (d.kind, n.state) {
        case (.errorRate, .resolved):
            return "\(settings.project): error rate back to \(pct(f.errorRate)) (threshold \(pct(f.threshold))) — \(window)"
        case (.errorRate, _):
            return "\(settings.project): error rate \(pct(f.errorRate)) ≥ \(pct(f.threshold)) on \(poolName(d.pool))\(release) — \(f.errors) of \(window)"
        case (.upstreamRetries, .resolved):
            return "\(settings.project): upstream retries back to \(pct(f.retryRate)) — \(window)"
        case (.upstreamRetries, _):
            return "\(settings.project): \(pct(f.retryRate)) of requests failed upstream and were retried on the other pool — \(f.retried) of \(window)"
        case (.failover, .resolved):
            return "\(settings.project): failover over — the live pool \(poolName(d.live)) serves again"
        case (.failover, _):
            return "\(settings.project): failover — \(poolName(d.pool))\(release) is answering for the live pool \(poolName(d.live))"
        case (.routeMoved, .resolved):
            return "\(settings.project): the route was moved by a person after the watcher's failover; \(poolName(d.pool)) is no longer held by the watcher"
        case (.certificate, .resolved):
            return "\(settings.project): certificate renewed — \(d.detail)"
        case (.certificate, _):
            return "\(settings.project): certificate — \(d.detail)"
        case (.idlePoolDown, .resolved), (.livePoolDown, .resolved):
            return "\(settings.project): the pool \(poolName(d.pool)) is back (\(d.detail))"
        case (.idlePoolDown, _):
            return "\(settings.project): the idle pool \(poolName(d.pool))\(release) is down (\(d.detail)): a failover has nothing to fail over to"
        case (.livePoolDown, _):
            return "\(settings.project): the live pool \(poolName(d.pool))\(release) is down (\(d.detail)); nginx sends its requests to the other pool"
        case (.crashLoop, .resolved):
            return "\(settings.project): service \(d.subject) is no longer crash-looping: \(d.detail)"
        case (.crashLoop, _):
            return "\(settings.project): service \(d.subject) is crash-looping: \(d.detail)"
        case (.proxyRestarted, .resolved):
            return "\(settings.project): the proxy runs again (\(d.detail))"
        case (.proxyRestarted, _):
            return "\(settings.project): the proxy restarted: \(d.detail); requests fail until it is back"
        case (.routeMoved, _):
            return "\(settings.project): route moved — the live pool \(poolName(d.live)) stopped answering its health path; the watcher moved traffic to \(poolName(d.pool))\(release)"
        }
    }

    public static func advice(_ kind: AlertKind, pool: String) -> String {
        switch kind {
        case .errorRate:
            return "Check the app logs of the \(poolName(pool)) pool (docker logs), its last deploy, and `bgctl status`; `bgctl switch` to the other pool if it is healthy."
        case .upstreamRetries:
            return "Clients still get answers, but one pool is failing: check `bgctl status` and the failing pool's container logs before the other pool is needed."
        case .failover:
            return "The live pool is failing or down: check `bgctl status` and `docker logs` of the live pool's container; nginx is serving from the backup pool."
        case .certificate:
            return "Run `bgctl certs status` on the host for the names, the expiry and the last error; fix what it names (port 80 must reach this host for HTTP-01), then `bgctl certs renew --force`."
        case .idlePoolDown:
            return "Nothing can take over if the live pool fails: check `bgctl status` and `docker logs` of the \(poolName(pool)) pool's container; `bgctl up` starts it again."
        case .livePoolDown:
            return "nginx retries on the other pool, and the watcher moves the route when the live pool stops answering: check `docker logs` of the \(poolName(pool)) pool's container and `bgctl status`."
        case .crashLoop:
            return "Docker keeps restarting it: check `docker logs` of the service's container and its settings in the spec."
        case .proxyRestarted:
            return "Check `docker logs` of the proxy's container (nginx's error log) and `bgctl status`; Docker restarts it (restart policy unless-stopped)."
        case .routeMoved:
            return "Traffic stays on \(poolName(pool)) until a person switches: check the other pool's container (docker logs, bgctl status), then `bgctl switch \(pool)` to record the move or switch back once it is healthy."
        }
    }

    /// Slack incoming-webhook payload: Block Kit blocks plus `text`, the notification fallback. Every
    /// value is escaped for mrkdwn (`SafeText.slack`); the sample requests, which come from the
    /// internet, sit in a code block they cannot close.
    public static func slackPayload(_ n: AlertNotification, settings: WatchSettings) -> [String: Any] {
        let d = n.detection
        let f = d.figures
        let icon = n.state == .resolved ? "✅" : (n.state == .repeating ? "🔁" : "🚨")
        let title = "\(icon) \(headline(n, settings: settings))"
        var fields: [[String: Any]] = d.kind.isContainerEvent ? [
            field("Alert", "\(d.kind.rawValue) (\(n.state.rawValue))"),
            d.kind == .crashLoop ? field("Service", d.subject) : d.kind == .proxyRestarted ? field("Container", "the proxy") : field("Pool", poolName(d.pool)),
            field("Live pool", poolName(d.live)),
            field("Detail", d.detail),
            field("Time", iso(d.at)),
        ] : d.kind == .certificate ? [
            field("Alert", "\(d.kind.rawValue) (\(n.state.rawValue))"),
            field("Detail", d.detail),
            field("Time", iso(d.at)),
        ] : [
            field("Alert", "\(d.kind.rawValue) (\(n.state.rawValue))"),
            field("Pool", poolName(d.pool)),
            field("Live pool", poolName(d.live)),
            field("Release", settings.releases[d.pool].flatMap { $0.isEmpty ? nil : $0 } ?? "-"),
            field("Error rate", "\(pct(f.errorRate)) (threshold \(pct(f.threshold)))"),
            field("Window", "\(f.requests) requests / \(seconds(f.windowSeconds)) s (max \(f.windowRequests))"),
            field("Retried upstream", "\(f.retried) (\(pct(f.retryRate)))"),
            field("Time", iso(d.at)),
        ]
        fields = Array(fields.prefix(10))
        var blocks: [[String: Any]] = [
            ["type": "header", "text": ["type": "plain_text", "text": SafeText.slack(title, limit: 150), "emoji": true]],
            ["type": "section", "fields": fields],
        ]
        if n.state != .resolved && !d.samples.isEmpty {
            let lines = d.samples.suffix(5).map { s in
                let method = SafeText.slack(s.method, limit: 16)
                let uri = SafeText.slack(s.uri, limit: 200)
                let upstream = SafeText.slack(s.upstreamStatus.isEmpty ? "-" : s.upstreamStatus, limit: 40)
                let pool = SafeText.slack(s.pool.isEmpty ? "-" : s.pool, limit: 16)
                return "\(iso(s.time)) \(method) \(uri) → \(s.status) (upstream \(upstream), pool \(pool))"
            }
            // At most 5 × ~330 characters: well inside the section's 3000.
            blocks.append(["type": "section", "text": mrkdwnText("*Sample failing requests*\n```\(lines.joined(separator: "\n"))```")])
        }
        if n.state != .resolved {
            blocks.append(["type": "context", "elements": [mrkdwnText("What to check: \(advice(d.kind, pool: SafeText.slack(d.pool, limit: 40)))")]])
        }
        return ["text": SafeText.slack(title, limit: 2900), "blocks": blocks]
    }

    /// Generic webhook payload: one flat, documented JSON object.
    public static func webhookPayload(_ n: AlertNotification, settings: WatchSettings) -> [String: Any] {
        let d = n.detection
        let f = d.figures
        return [
            "project": settings.project,
            "kind": d.kind.rawValue,
            "state": n.state.rawValue,
            "at": iso(d.at),
            "pool": d.pool,
            "live": d.live,
            "release": settings.releases[d.pool] ?? "",
            "summary": headline(n, settings: settings),
            "advice": advice(d.kind, pool: d.pool),
            "detail": d.detail,
            "subject": d.subject,
            "figures": [
                "requests": f.requests, "errors": f.errors, "retried": f.retried,
                "error_rate": round(f.errorRate * 100) / 100, "retry_rate": round(f.retryRate * 100) / 100,
                "threshold": f.threshold, "window_requests": f.windowRequests, "window_seconds": f.windowSeconds,
            ],
            "samples": d.samples.map { ["time": iso($0.time), "method": $0.method, "uri": $0.uri, "status": $0.status,
                                        "upstream_status": $0.upstreamStatus, "pool": $0.pool] },
        ]
    }

    /// Slack payload for an announcement (a deploy's verdict): a header, fields, and a context line.
    /// The reason may quote a container's output: escaped like everything else.
    public static func slackPayload(_ a: Announcement) -> [String: Any] {
        let title = "\(a.ok ? "✅" : "🚨") \(a.title)"
        var blocks: [[String: Any]] = [["type": "header", "text": ["type": "plain_text", "text": SafeText.slack(title, limit: 150), "emoji": true]]]
        if !a.fields.isEmpty {
            blocks.append(["type": "section", "fields": a.fields.prefix(10).map { field($0.0, $0.1) }])
        }
        if !a.detail.isEmpty {
            blocks.append(["type": "context", "elements": [mrkdwnText(SafeText.slack(a.detail, limit: 2900))]])
        }
        return ["text": SafeText.slack(title, limit: 2900), "blocks": blocks]
    }

    public static func json(_ object: [String: Any]) -> [UInt8] {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array(data)
    }

    /// A section field: the label in bold, the value (anything) escaped below it; within 2000.
    static func field(_ label: String, _ value: String) -> [String: Any] {
        mrkdwnText("*\(SafeText.slack(label, limit: 100))*\n\(SafeText.slack(value, limit: 1800))")
    }

    /// A mrkdwn text object from already-escaped text. `verbatim` keeps Slack from turning bare
    /// names and URLs in it into links or mentions.
    static func mrkdwnText(_ escaped: String) -> [String: Any] { ["type": "mrkdwn", "text": escaped, "verbatim": true] }

    /// Whole seconds for a message; any Double, never a trap.
    static func seconds(_ value: Double) -> Int {
        guard value.isFinite else { return value > 0 ? Int.max : 0 }
        return Int(min(max(value, -9e15), 9e15))
    }

    static func poolName(_ pool: String) -> String { pool.isEmpty ? "unknown pool" : pool }

    static func pct(_ value: Double) -> String { Percent.format(value) }


    /// `2026-11-26T15:16:52Z`, formatted with gmtime_r: ISO8601DateFormatter is built per call and
    /// costs far more than the message it goes into.
    public static func iso(_ seconds: Double) -> String {
        // Years 0…9999 only: a log's "msec" may be anything, and time_t(_:) traps out of range.
        var t = time_t(seconds.isFinite ? min(max(seconds, -62_167_219_200), 253_402_300_799).rounded(.down) : 0)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
