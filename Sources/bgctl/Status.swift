import ArgumentParser
import Foundation
import NginxConfigGen
import Orchestrator
import Watcher

extension Bgctl {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what runs, which pool is live, health and releases.",
            discussion: """
            Exit status: 0 healthy, 3 serving but degraded, 4 not serving, 69 Docker unavailable.

            Examples:
              bgctl status
              bgctl status --json
            """)

        @Flag(help: "Print one JSON object (documented in the README) instead of text.") var json = false
        @OptionGroup var options: StackOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            try reporting(json: json ? "status" : nil) {
                let (fleet, written) = try options.fleetOrSpec()
                if let fleet { return try FleetCommands.status(fleet, json: json) }
                let stack = try options.stack(written: written)
                let status = try stack.status(tlsSource: stack.spec.proxy.tls?.files.map { options.spec.tlsFiles($0, now: Date()) })
                // The running watcher's own report: window figures, alerts firing, deliveries.
                let watcherData = status.watcher.state == "running" ? (try? stack.ports.files.read(stack.paths.watcherStatusFile, limit: FileLimits.stateFile)) ?? nil : nil
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys]
                    var object = try JSONSerialization.jsonObject(with: try encoder.encode(status)) as? [String: Any] ?? [:]
                    var watcher = object["watcher"] as? [String: Any] ?? [:]
                    watcher["report"] = watcherData.flatMap { try? JSONSerialization.jsonObject(with: $0) } ?? NSNull()
                    object["watcher"] = watcher
                    // Unknown values are null, never left out (the encoder drops nil optionals).
                    for key in ["tls", "last_switch", "lock", "interrupted", "weights", "route", "fleet_agreed"] where object[key] == nil { object[key] = NSNull() }
                    object["schema"] = JSONOutput.schema
                    object["command"] = "status"
                    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
                    Terminal.json(String(decoding: data, as: UTF8.self))
                } else {
                    Terminal.stdout(Self.text(status, watcher: watcherData.flatMap { try? JSONDecoder().decode(WatcherStatus.self, from: $0) }))
                }
                switch status.overall {
                case "healthy": return
                case "degraded": throw CLIError.exit(ExitStatus.degraded)
                default: throw CLIError.exit(ExitStatus.notServing)
                }
            }
        }

        static func text(_ status: StackStatus, watcher: WatcherStatus?) -> String {
            func paint(_ text: String, _ good: Bool) -> String { Terminal.style(text, good ? .green : .red, stderr: false) }
            var lines: [String] = []
            let overall = status.overall.replacingOccurrences(of: "_", with: " ")
            lines.append("project \(status.project): live pool \(Terminal.style(status.live.rawValue, .bold, stderr: false)), \(paint(overall, status.overall == "healthy"))")
            if let weights = status.weights {
                lines.append("canary in progress: " + weights.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)%" }.joined(separator: ", "))
            }
            lines.append("")
            let header = ["POOL", "LIVE", "CONTAINER", "STATE", "HEALTH", "RELEASE", "IMAGE", "UPTIME", "PREVIEW"]
            var rows = [header]
            for name in ["blue", "green"] {
                guard let pool = status.pools[name] else { continue }
                let live = pool.live ? "yes" : (status.weights?[name]).map { "\($0)%" } ?? "-"
                rows.append([name, live, pool.container, pool.state, pool.health ?? "-",
                             pool.release.isEmpty ? "-" : Terminal.field(pool.release), pool.image.map(Terminal.field) ?? "-",
                             pool.uptimeSeconds.map(duration) ?? "-", "127.0.0.1:\(pool.previewPort)"])
            }
            let widths = (0..<header.count).map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows {
                lines.append(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
            }
            lines.append("")
            let proxy = status.proxy
            lines.append((proxy.hosts.isEmpty ? "proxy" : "shared front") + " \(proxy.container): \(proxy.state)\(proxy.health.map { "/\($0)" } ?? ""), listen \(proxy.listen), served by \(proxy.servedBy ?? "-"), config \(proxy.configInSync ? "in sync" : "OUT OF SYNC")"
                         + (proxy.hosts.isEmpty ? "" : ", hosts \(proxy.hosts.joined(separator: " "))"))
            if let tls = status.tls {
                var line = "tls \(tls.listen): "
                if let notAfter = tls.notAfter, let days = tls.daysLeft {
                    line += days < 0 ? "certificate EXPIRED on \(notAfter)" : "certificate valid until \(notAfter) (\(days) day\(days == 1 ? "" : "s") left)"
                    if days >= 0 && days < CertificateInfo.warningDays { line += Terminal.style(" — renew it soon", .yellow, stderr: false) }
                } else {
                    line += "no certificate installed"
                }
                if tls.filesInSync == false { line += ", files changed since up" }
                lines.append(line)
            }
            if let last = status.lastSwitch {
                lines.append("last switch: \(last.from?.rawValue ?? "?") → \(last.to?.rawValue ?? "?") at \(Terminal.field(last.time)) by \(Terminal.field(last.who))\(last.reason.map { " (\(Terminal.field($0)))" } ?? "")")
            }
            if status.watcher.enabled || status.watcher.state != "missing" {
                var line = "watcher \(status.watcher.container): \(status.watcher.state)"
                if let w = watcher {
                    let f = w.figures
                    line += String(format: ", window %d requests, error rate %.1f%% (threshold %.1f%%), retried %d", f.requests, f.errorRate, f.threshold, f.retried)
                    line += ", firing: \(w.firing.isEmpty ? "none" : w.firing.map(\.rawValue).joined(separator: ", "))"
                    if w.maintenance { line += ", MAINTENANCE (alerts not sent)" }
                    let failed = w.deliveries.values.reduce(0) { $0 + $1.failed }
                    if failed > 0 { line += ", \(failed) alert deliveries failed" }
                }
                lines.append(line)
            }
            if status.events.enabled || status.events.state != "missing" {
                lines.append("events \(status.events.container): \(status.events.state)")
            }
            for service in status.services {
                let states = service.containers.map { "\($0.name) \($0.state)" }.joined(separator: ", ")
                lines.append("service \(service.name): release \(Terminal.field(service.release)) on \(service.pool.rawValue): \(states.isEmpty ? "no containers" : states)")
            }
            if let agreed = status.fleetAgreed {
                lines.append("fleet: agreed on \(agreed.isEmpty ? "no pool (this host is out)" : agreed.map(\.rawValue).joined(separator: " and "))")
            }
            if let lock = status.lock { lines.append("lock: held by \(Terminal.field(lock.description))") }
            for problem in status.problems { lines.append(Terminal.style("! ", .yellow, stderr: false) + Terminal.field(problem)) }
            return lines.joined(separator: "\n")
        }

        static func duration(_ seconds: Int) -> String {
            if seconds < 60 { return "\(seconds)s" }
            if seconds < 3600 { return "\(seconds / 60)m\(seconds % 60)s" }
            return "\(seconds / 3600)h\(seconds % 3600 / 60)m"
        }
    }
}
