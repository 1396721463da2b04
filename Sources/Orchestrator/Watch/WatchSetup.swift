import NginxConfigGen
import Watcher

/// What the watcher gets from the spec: its settings value and its alert targets. The Watcher module
/// knows nothing of the spec; this is the one translation.
public enum WatchSetup {
    public static func settings(_ spec: DeploymentSpec) -> WatchSettings {
        settings(spec.watch, project: spec.project,
                 releases: Dictionary(uniqueKeysWithValues: Pool.allCases.map { ($0.rawValue, spec.pool($0).release) }))
    }

    /// The settings for a `watch:` section; `WatchSpec()` gives the spec's defaults (a watch with no spec).
    public static func settings(_ watch: WatchSpec, project: String, releases: [String: String] = [:]) -> WatchSettings {
        WatchSettings(project: project, window: watch.window, windowSeconds: Double(watch.windowSeconds),
                      minRequests: watch.minRequests, errorRateThreshold: watch.errorRateThreshold,
                      count4xx: watch.count4xx, ignorePaths: watch.ignorePaths,
                      cooldown: watch.cooldown.seconds, releases: releases)
    }

    /// Slack first, then the generic webhooks in the spec's order.
    public static func targets(_ spec: DeploymentSpec) -> [AlertTarget] {
        var targets: [AlertTarget] = []
        if !spec.alerts.slackWebhookURL.isEmpty {
            targets.append(AlertTarget(name: "slack", format: .slack, url: spec.alerts.slackWebhookURL.revealed))
        }
        for (index, hook) in spec.alerts.webhooks.enumerated() {
            targets.append(AlertTarget(name: "webhook \(index + 1)", format: .json, url: hook.url.revealed,
                                       headers: hook.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value.revealed) }))
        }
        return targets
    }
}

/// A deploy's verdict, told to the spec's alert sinks (Slack and webhooks).
public enum DeployAnnouncement {
    /// The message for an outcome; nil for outcomes nobody is told about (staged, planned).
    public static func make(_ outcome: DeployOutcome, spec: DeploymentSpec, at time: Double) -> Announcement? {
        let verb: String
        switch outcome.result {
        case .promoted: verb = "deployed"
        case .rolledBack: verb = "rolled back"
        case .rollbackFailed: verb = "ROLLBACK FAILED"
        case .aborted: verb = "aborted"
        case .beforeSwitchFailed: verb = "not switched (before_switch failed)"
        case .staged, .planned: return nil
        }
        let figures = outcome.figures ?? AnalysisFigures()
        let title = "\(spec.project): \(verb) \(outcome.release) (\(outcome.image)) on \(outcome.target.rawValue)"
        var fields: [(String, String)] = [
            ("Result", outcome.result.rawValue), ("Live pool", outcome.result == .promoted || outcome.result == .rollbackFailed ? outcome.target.rawValue : outcome.previous.rawValue),
        ]
        var json: [String: Any] = [
            "project": spec.project, "kind": "deploy", "state": outcome.result.rawValue, "at": AlertMessage.iso(time),
            "pool": outcome.target.rawValue, "previous": outcome.previous.rawValue, "image": outcome.image, "release": outcome.release,
            "reason": outcome.reason, "figures": figures.dictionary, "summary": title,
        ]
        if let canary = outcome.canary {
            if outcome.result == .rollbackFailed {
                fields[1] = ("Live pool", "\(outcome.previous.rawValue); \(outcome.target.rawValue) may still take requests")
            }
            // The fields are escaped where the message is built (AlertMessage); each step on its own line.
            fields.append(("Canary", canary.summary))
            let analysed = outcome.steps.isEmpty ? ["no step was analysed"] : outcome.steps.map(\.summary)
            fields.append(("Steps", analysed.joined(separator: "\n")))
            json["canary"] = ["steps": canary.steps, "step_seconds": canary.seconds, "sticky": canary.sticky, "pool": canary.pool.rawValue]
            json["steps"] = outcome.steps.map { ["weight": $0.weight, "result": $0.result, "reason": $0.reason, "figures": $0.figures] as [String: Any] }
            json["figures"] = outcome.steps.last?.figures ?? [:]
        } else {
            fields += [
                ("Requests analysed", "\(figures.requests) in \(Int(figures.seconds.rounded())) s"),
                ("Error rate", "\(AnalysisFigures.pct(figures.errorRate)) (threshold \(AnalysisFigures.pct(spec.watch.errorRateThreshold)))"),
                ("Retried upstream", "\(figures.retried)"), ("Failovers", "\(figures.failovers)"),
            ]
            if let p95 = figures.p95 { fields.append(("p95", "\(Int(p95 * 1000)) ms")) }
        }
        return Announcement(title: title, ok: outcome.result == .promoted, fields: fields, detail: outcome.reason, json: json)
    }

    /// Sends the verdict to every target, waiting at most 15 s for delivery; `log` hears failures.
    public static func send(_ outcome: DeployOutcome, spec: DeploymentSpec, clock: Clock = .system, log: @escaping @Sendable (String) -> Void) {
        let targets = WatchSetup.targets(spec)
        guard !targets.isEmpty, let announcement = make(outcome, spec: spec, at: clock.now().timeIntervalSince1970) else { return }
        let delivery = Delivery(targets: targets, timeout: 5, log: log)
        delivery.announce(announcement)
        delivery.finish(timeout: 15)
    }
}
