import ArgumentParser
import Foundation
import NginxConfigGen
import Orchestrator
import Watcher

extension Bgctl {
    struct Deploy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ship an image to the idle pool, switch, analyse the proxy's log, and roll back automatically.",
            discussion: """
            Exit status: 0 promoted (or staged with --no-switch), 1 not switched (the live pool was never touched),
            6 rolled back to the previous pool, 7 the rollback failed too (a person must act).
            """)

        @Option(help: "The image to deploy.") var image: String
        @Option(help: "Release label (default: the image's tag).") var release: String?
        @Option(name: .customLong("env"), help: ArgumentHelp("Environment for the new release, on top of the spec's (repeatable).", valueName: "KEY=VALUE"))
        var env: [String] = []
        @Option(help: ArgumentHelp("How long to analyse after the switch (default: deploy.analyze).", valueName: "DURATION"))
        var analyze: String?
        @Flag(help: "Stop after the new release is healthy on the idle pool; switch later by hand.") var noSwitch = false
        @Option(help: ArgumentHelp("Give up waiting for the new release to be healthy after this long (default: from app.health).", valueName: "DURATION"))
        var timeout: String?
        @Option(help: "Why; recorded in the history and the notifications.") var reason: String?
        @Flag(help: "Print the docker commands the deploy would run (before its analysis), and change nothing.") var dryRun = false
        @OptionGroup var options: StackOptions

        func run() async throws {
            try await orchestrating {
                var request = DeployRequest(image: image)
                guard Syntax.isImageReferenceValue(image) else {
                    throw ValidationError("--image: not a valid image reference: \"\(image)\"")
                }
                if let release, !Syntax.isReleaseValue(release) {
                    throw ValidationError("--release: letters, digits and . _ : + / @ - only (at most 128)")
                }
                request.release = release
                for pair in env {
                    guard let eq = pair.firstIndex(of: "="), Syntax.isEnvironmentNameValue(String(pair[..<eq])) else {
                        throw ValidationError("--env: expected KEY=VALUE with a valid variable name, found \"\(pair.split(separator: "=").first ?? "")\"")
                    }
                    request.env[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
                }
                if let analyze { request.analyze = try DurationFlag.seconds(analyze, flag: "--analyze") }
                request.noSwitch = noSwitch
                request.lockWait = try options.lockWaitSeconds()
                request.reason = reason
                var stack = try options.stack()
                if let timeout { stack.healthTimeout = try DurationFlag.seconds(timeout, flag: "--timeout") }
                if dryRun {
                    for command in try stack.planDeploy(request) { Terminal.stdout(command.description) }
                    return
                }
                let analysis = LogAnalysis(path: stack.paths.accessLog, ignorePaths: stack.spec.watch.ignorePaths,
                                           count4xx: stack.spec.watch.count4xx)
                let outcome = try stack.deploy(request, analysis: analysis)
                Self.announce(outcome, spec: stack.spec)
                switch outcome.result {
                case .staged:
                    Terminal.stdout("deploy: \(outcome.reason)")
                case .promoted:
                    Terminal.stdout("deploy: promoted \(outcome.release) on \(outcome.target.rawValue) in \(Int(outcome.total)) s (\(outcome.reason))")
                case .rolledBack:
                    Terminal.stdout("deploy: rolled back to \(outcome.previous.rawValue) after \(String(format: "%.1f", outcome.analysed)) s of analysis: \(outcome.reason)")
                    throw CLIError.exit(ExitStatus.rolledBack)
                case .rollbackFailed:
                    Terminal.stderr(Terminal.style("error:", .red) + " \(outcome.reason)\nTraffic is on \(outcome.target.rawValue), the release that failed analysis. Act now: check `bgctl status`, then `bgctl switch \(outcome.previous.rawValue) --force` once \(outcome.previous.rawValue) is healthy.")
                    throw CLIError.exit(ExitStatus.rollbackFailed)
                }
            }
        }

        /// Sends the verdict to the spec's alert sinks (Slack and webhooks), waiting briefly for delivery.
        static func announce(_ outcome: DeployOutcome, spec: DeploymentSpec) {
            let targets = Watch.targets(spec)
            guard !targets.isEmpty, outcome.result != .staged else { return }
            let verb: String
            switch outcome.result {
            case .promoted: verb = "deployed"
            case .rolledBack: verb = "rolled back"
            case .rollbackFailed: verb = "ROLLBACK FAILED"
            case .staged: verb = "staged"
            }
            let figures = outcome.figures ?? AnalysisFigures()
            let title = "\(spec.project): \(verb) \(outcome.release) (\(outcome.image)) on \(outcome.target.rawValue)"
            var fields: [(String, String)] = [
                ("Result", outcome.result.rawValue), ("Live pool", outcome.result == .promoted ? outcome.target.rawValue : outcome.previous.rawValue),
                ("Requests analysed", "\(figures.requests) in \(Int(figures.seconds.rounded())) s"),
                ("Error rate", "\(String(format: "%.1f", figures.errorRate))% (threshold \(spec.watch.errorRateThreshold)%)"),
                ("Retried upstream", "\(figures.retried)"), ("Failovers", "\(figures.failovers)"),
            ]
            if let p95 = figures.p95 { fields.append(("p95", "\(Int(p95 * 1000)) ms")) }
            let json: [String: Any] = [
                "project": spec.project, "kind": "deploy", "state": outcome.result.rawValue, "at": AlertMessage.iso(Date().timeIntervalSince1970),
                "pool": outcome.target.rawValue, "previous": outcome.previous.rawValue, "image": outcome.image, "release": outcome.release,
                "reason": outcome.reason, "figures": figures.dictionary, "summary": title,
            ]
            let delivery = Delivery(targets: targets, timeout: 5) { Terminal.stderr("deploy: " + $0) }
            delivery.announce(Announcement(title: title, ok: outcome.result == .promoted, fields: fields, detail: outcome.reason, json: json))
            delivery.finish(timeout: 15)
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Switch back to the previous live pool from the history (refused if it is unhealthy, unless --force).")

        @Option(help: "Why; recorded in the history.") var reason: String?
        @Flag(help: "Skip the health check of the previous pool.") var force = false
        @Flag(help: "Print the docker commands the rollback would run, and change nothing.") var dryRun = false
        @OptionGroup var options: StackOptions

        func run() async throws {
            try await orchestrating {
                let stack = try options.stack()
                let (from, to) = try stack.previousLive()
                if dryRun {
                    Terminal.stderr("rollback would switch \(from.rawValue) → \(to.rawValue)")
                    for command in stack.planSwitch(to: to) { Terminal.stdout(command.description) }
                    return
                }
                let outcome = try stack.switchTo(to, reason: "rollback" + (reason.map { ": \($0)" } ?? ""), force: force,
                                                 lockWait: try options.lockWaitSeconds())
                Terminal.stdout("rollback: \(from.rawValue) → \(outcome.to.rawValue) in \(Int(outcome.total * 1000)) ms")
            }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what bgctl changed: up, switch, deploy, rollback, maintenance (--json: the JSONL audit log).")

        @Flag(help: "Print the entries as JSON lines.") var json = false
        @Option(help: "Show only the last N entries.") var limit: Int?
        @OptionGroup var spec: SpecOptions

        func run() async throws {
            try await reporting {
                let loaded = try spec.load()
                let paths = StackPaths(spec: loaded, specDirectory: spec.directory)
                var entries = StateStore.history(paths)
                if let limit {
                    guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
                    entries = Array(entries.suffix(limit))
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                for entry in entries {
                    if json {
                        Terminal.stdout(String(decoding: try encoder.encode(entry), as: UTF8.self))
                    } else {
                        var line = "\(entry.time)  \(entry.action.padding(toLength: 11, withPad: " ", startingAt: 0)) \(entry.result.padding(toLength: 15, withPad: " ", startingAt: 0))"
                        if let from = entry.from, let to = entry.to { line += " \(from.rawValue) → \(to.rawValue)" } else if let to = entry.to { line += " \(to.rawValue)" }
                        if let release = entry.release { line += "  \(release)" }
                        line += "  by \(entry.who)"
                        if let reason = entry.reason, !reason.isEmpty { line += "  (\(reason))" }
                        Terminal.stdout(line)
                    }
                }
            }
        }
    }

    struct Unlock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Break the stack's lock (for a person: when a holder hangs). A dead holder's lock is recovered automatically.")

        @OptionGroup var spec: SpecOptions

        func run() async throws {
            try await reporting {
                let loaded = try spec.load()
                let paths = StackPaths(spec: loaded, specDirectory: spec.directory)
                if let holder = StackLock.breakLock(paths) {
                    Terminal.stdout("unlock: broke the lock held by \(holder)")
                } else {
                    Terminal.stdout("unlock: no lock was held")
                }
            }
        }
    }
}

/// The deploy's analysis over the proxy's log, with the watcher's tailer and parser.
final class LogAnalysis: DeployAnalysis {
    let path: String
    let ignorePaths: [String]
    let count4xx: Bool
    private var tailer: Tailer?
    private var seen = AnalysisFigures()
    private var times: [Double] = []

    init(path: String, ignorePaths: [String], count4xx: Bool) {
        self.path = path
        self.ignorePaths = ignorePaths
        self.count4xx = count4xx
    }

    func begin() {
        tailer = Tailer(path: path, fromStart: false)
    }

    func figures() -> AnalysisFigures {
        tailer?.readAvailable { line in
            guard let record = LineParser.parse(line) else { return }
            if !ignorePaths.isEmpty, Analyzer.ignored(LineParser.text(line, record.uri), ignorePaths) { return }
            seen.requests += 1
            if record.status >= 500 || (count4xx && record.status >= 400) { seen.errors += 1 }
            if record.retried { seen.retried += 1 }
            if record.pool != .none, record.live != .none, record.pool != record.live { seen.failovers += 1 }
            if record.requestTime >= 0 { times.append(record.requestTime) }
        }
        if !times.isEmpty {
            let sorted = times.sorted()
            seen.p95 = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.95).rounded(.up)) - 1)]
        }
        return seen
    }
}
