import ArgumentParser
import Foundation
import NginxConfigGen
import Orchestrator
import Synchronization
import Watcher

extension Bgctl {
    struct Watch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tail the proxy's JSON access log: error rate, upstream retries and failover, alerts to Slack and webhooks.",
            discussion: """
            Runs until SIGTERM or SIGINT, or with --once until the input is read, or --for a duration.
            As a CI gate: bgctl watch --for 60s --fail-on-alert exits 5 when any alert fired.
            """)

        @OptionGroup var spec: SpecOptions
        @Option(help: ArgumentHelp("The log to read, or - for standard input (default: watch.log, else the proxy's access log).", valueName: "FILE"))
        var log: String?
        @Flag(help: "Process the existing content first (default: start at the end).") var fromStart = false
        @Flag(help: "Process what is there now, print the summary and exit.") var once = false
        @Option(name: .customLong("for"), help: ArgumentHelp("Stop after this long, e.g. 60s.", valueName: "DURATION"))
        var duration: String?
        @Flag(help: "Exit 5 when any alert fired.") var failOnAlert = false
        @Flag(help: "Print alerts and the summary as JSON lines.") var json = false
        @Option(help: ArgumentHelp("Keep status, tail position and maintenance state in DIR (how the stack's watcher runs).", valueName: "DIR"))
        var watcherDir: String?
        @Option(help: ArgumentHelp("Rotate the log past logs.max_size and send USR1 to this nginx master (checked to be nginx); the stack's watcher passes 1, the proxy's PID in its namespace.", valueName: "PID"))
        var rotatePid: Int?

        func validate() throws {
            // A path is printed and opened: a control or bidi character in it is a mistake or a trick.
            for (flag, value) in [("--log", log), ("--watcher-dir", watcherDir)] {
                guard let value, let bad = value.unicodeScalars.first(where: SafeText.isHidden) else { continue }
                throw ValidationError("\(flag): the path contains the control character U+\(String(format: "%04X", bad.value)); give the path without it")
            }
        }

        func run() throws {
            try reporting {
                let seconds = try duration.map { try DurationFlag.seconds($0, flag: "--for") }
                let loaded = try spec.load()
                let paths = StackPaths(spec: loaded, specDirectory: spec.directory)
                let logPath = log ?? (loaded.watch.log.isEmpty ? paths.accessLog : loaded.watch.log)
                if once && logPath != "-" && !FileManager.default.fileExists(atPath: logPath) {
                    throw CLIError.failed("cannot read \(SafeText.terminal(logPath)): no such file")
                }
                var options = WatchOptions(logPath: logPath)
                options.fromStart = fromStart || once
                options.once = once
                options.duration = seconds
                options.maintenanceDefault = loaded.watch.maintenance
                if let watcherDir {
                    try FileManager.default.createDirectory(atPath: watcherDir, withIntermediateDirectories: true)
                    options.statusPath = (watcherDir as NSString).appendingPathComponent("status.json")
                    options.checkpointPath = (watcherDir as NSString).appendingPathComponent("position.json")
                    options.maintenancePath = (watcherDir as NSString).appendingPathComponent("maintenance.json")
                } else {
                    options.maintenancePath = paths.maintenanceFile
                }
                var reopen: (() -> Bool)?
                if let rotatePid, !once, logPath != "-" {
                    guard rotatePid >= 1 else { throw ValidationError("--rotate-pid: expected a process id (1 or more), found \(rotatePid)") }
                    options.rotation = LogRotation.Policy(maxSize: loaded.logs.maxSize.bytes, keep: loaded.logs.keep)
                    reopen = { NginxMaster.reopenLogs(pid: rotatePid) }
                }
                let settings = WatchSetup.settings(loaded)
                let targets = WatchSetup.targets(loaded)
                let delivery = targets.isEmpty ? nil : Delivery(targets: targets) { Terminal.stderr("watch: " + $0) }
                let printJSON = json
                Signals.install()
                if !once {
                    Terminal.stderr("watch: following \(logPath == "-" ? "standard input" : SafeText.terminal(logPath)) (window \(settings.window) requests / \(Int(settings.windowSeconds)) s, threshold \(settings.errorRateThreshold)%, \(targets.count) alert target\(targets.count == 1 ? "" : "s"))")
                }
                let loop = WatchLoop(settings: settings, options: options, delivery: delivery, reopen: reopen,
                                     log: { Terminal.stderr("watch: " + $0) }) { notification, record in
                    if printJSON {
                        Terminal.stdout(Self.jsonLine(record, type: "alert"))
                    } else {
                        let tag = notification.state == .resolved ? Terminal.style("RESOLVED", .green, stderr: false)
                            : Terminal.style("ALERT", .red, stderr: false)
                        Terminal.stdout("\(record.at) \(tag) \(record.kind.rawValue): \(SafeText.terminal(record.summary))\(record.suppressed ? " (maintenance: not sent)" : "")")
                    }
                }
                let summary = loop.run { Signals.stopRequested }
                if printJSON {
                    Terminal.stdout(Self.jsonLine(summary, type: "summary"))
                } else if once || seconds != nil || Signals.stopRequested {
                    let pools = summary.byPool.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                    Terminal.stdout("watch: \(summary.lines) lines (\(pools.isEmpty ? "no pool" : pools)), \(summary.malformed) malformed, \(summary.status5xx) 5xx, \(summary.retried) retried upstream, \(summary.alerts.filter { $0.state == .firing }.count) alert(s) fired")
                }
                if failOnAlert && summary.anyFired { throw CLIError.exit(ExitStatus.alertFired) }
            }
        }

        /// One JSON line: the value's keys plus `type` (`alert` or `summary`), so a reader of the
        /// stream can tell the lines apart without guessing from their keys.
        static func jsonLine<T: Encodable>(_ value: T, type: String) -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            guard let data = try? encoder.encode(value),
                  var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return #"{"type":"error"}"# }
            object["type"] = type
            guard let line = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
                return #"{"type":"error"}"#
            }
            return String(decoding: line, as: UTF8.self)
        }
    }
}

/// SIGTERM and SIGINT ask a long-running command to finish cleanly.
enum Signals {
    /// Set from the signal handler: a lock-free atomic is async-signal-safe.
    private static let flag = Atomic<Int>(0)

    static var stopRequested: Bool { flag.load(ordering: .relaxed) != 0 }

    static func install() {
        signal(SIGTERM) { _ in Signals.flag.store(1, ordering: .relaxed) }
        signal(SIGINT) { _ in Signals.flag.store(1, ordering: .relaxed) }
    }
}
