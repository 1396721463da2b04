import ArgumentParser
import Foundation
import NginxConfigGen
import Orchestrator
import Watcher

extension Bgctl {
    struct Watch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tail the proxy's JSON access log: error rate, upstream retries and failover, alerts to Slack and webhooks.",
            discussion: """
            Runs until SIGTERM or SIGINT, or with --once until the input is read, or --for a duration.
            As a CI gate: bgctl watch --for 60s --fail-on-alert exits 5 when any alert fired.
            Metrics: a watcher that runs until stopped serves GET /metrics (Prometheus text format) on
            watch.metrics.listen (default 127.0.0.1:9464); with --once or --for only when --metrics-listen
            names an address. When the address cannot be bound (in use: another stack's watcher?), a
            watcher that runs until stopped says so on stderr, goes on alerting and binds again every
            30 s; a --once or --for run exits 1.

            Examples:
              bgctl watch
              bgctl watch --for 60s --fail-on-alert
              bgctl watch --once --json --log access.log
            """)

        @OptionGroup var spec: SpecOptions
        @OptionGroup var output: OutputOptions
        @Option(help: ArgumentHelp("The log to read, or - for standard input (default: watch.log, else the proxy's access log).", valueName: "FILE"),
                completion: .file())
        var log: String?
        @Flag(help: "Process the existing content first (default: start at the end).") var fromStart = false
        @Flag(help: "Process what is there now, print the summary and exit.") var once = false
        @Option(name: .customLong("for"), help: ArgumentHelp("Stop after this long, e.g. 60s.", valueName: "DURATION"),
                transform: PositiveDuration.parse)
        var duration: PositiveDuration?
        @Flag(help: "Exit 5 when any alert fired.") var failOnAlert = false
        @Flag(help: "Print alerts and the summary as JSON lines.") var json = false
        @Option(help: ArgumentHelp("Keep status, tail position and maintenance state in DIR (how the stack's watcher runs).", valueName: "DIR"),
                completion: .directory)
        var watcherDir: String?
        @Option(help: ArgumentHelp("Rotate the log past logs.max_size and send USR1 to this nginx master (checked to be nginx); the stack's watcher passes 1, the proxy's PID in its namespace.", valueName: "PID"))
        var rotatePid: Int?
        @Option(help: ArgumentHelp("Serve GET /metrics on IPV4:PORT (loopback, unless the spec's watch.metrics.listen names it), or off.", valueName: "ADDR"))
        var metricsListen: String?
        @Option(help: ArgumentHelp("Probe the live pool and move the route in DIR to the other pool when it stops answering (how the stack's watcher runs; never with --once).", valueName: "DIR"),
                completion: .directory)
        var route: String?
        @Option(help: ArgumentHelp("Renew proxy.tls.acme's certificate with the store in DIR/acme, the challenge folder DIR/acme-challenge and the proxy's DIR/tls, reloading nginx's master at PID 1 (how the stack's watcher runs).", valueName: "DIR"))
        var acme: String?
        @Option(help: ArgumentHelp("The CA file to trust for the ACME server (the watcher's mount of proxy.tls.acme.ca_file).", valueName: "FILE"))
        var acmeCa: String?
        @Option(help: ArgumentHelp("The names and CA settings bgctl up applied (a digest); with --acme, no renewal while the spec says otherwise.", valueName: "DIGEST"))
        var acmeSettings: String?
        @Option(help: ArgumentHelp("Also tail FILE, the events container's events.jsonl: alert when a pool, a service or the proxy dies (how the stack's watcher runs).", valueName: "FILE"),
                completion: .file())
        var events: String?
        @Flag(help: "Print the metrics in the Prometheus text format on stdout when done (alerts and the summary go to stderr).")
        var metricsDump = false

        func validate() throws {
            // A path is printed and opened: a control or bidi character in it is a mistake or a trick.
            for (flag, value) in [("--log", log), ("--watcher-dir", watcherDir), ("--route", route), ("--acme", acme), ("--acme-ca", acmeCa),
                                 ("--events", events)] {
                guard let value, let bad = value.unicodeScalars.first(where: SafeText.isHidden) else { continue }
                throw ValidationError("\(flag): the path contains the control character U+\(String(format: "%04X", bad.value)); give the path without it")
            }
        }

        /// Where to serve metrics: the flag, else the spec for a watcher that runs until stopped. A
        /// non-loopback address must be the spec's own (said on stderr); the flag alone cannot open one.
        /// Between two attempts to bind a metrics address that was in use.
        static let metricsRetrySeconds = 30.0

        func metricsAddress(_ spec: MetricsSpec, runsUntilStopped: Bool) throws -> ListenAddress? {
            if metricsListen == "off" { return nil }
            let address: ListenAddress
            if let metricsListen, let given = ListenAddress(hostPort: metricsListen) {
                address = given
            } else {
                guard spec.enabled, runsUntilStopped else { return nil }
                address = spec.listen
            }
            if !MetricsSpec.isLoopback(address) {
                guard address == spec.listen else {
                    throw ValidationError("--metrics-listen \(address): not a loopback address; an address reachable from other hosts must be set in the spec (watch.metrics.listen)")
                }
                Terminal.stderr(Terminal.style("!", .yellow) + " watch: metrics served on \(address), reachable from other hosts (watch.metrics.listen)")
            }
            return address
        }

        func run() throws {
            try reporting {
                if metricsDump && json {
                    throw ValidationError("--metrics-dump and --json both write to stdout; give one of them")
                }
                if let metricsListen, metricsListen != "off", ListenAddress(hostPort: metricsListen) == nil {
                    throw ValidationError("--metrics-listen: expected IPV4:PORT such as 127.0.0.1:9464 (port 1–65535) or off, found \"\(SafeText.terminal(metricsListen))\"")
                }
                let seconds = duration?.seconds
                let loaded = try Self.spec(spec, log: log)
                if let loaded, loaded.fleet != nil { return try watchFleet(loaded, seconds: seconds) }
                let paths = loaded.map { StackPaths(spec: $0, specDirectory: spec.directory) }
                // Without --log there is always a spec (see `spec(_:log:)`).
                var logPath = log ?? ""
                if log == nil, let loaded, let paths { logPath = loaded.watch.log.isEmpty ? paths.accessLog : loaded.watch.log }
                try Self.checkLog(logPath, mustExist: once)
                var options = WatchOptions(logPath: logPath)
                options.fromStart = fromStart || once
                options.once = once
                options.duration = seconds
                options.maintenanceDefault = loaded?.watch.maintenance ?? false
                options.eventsPath = events
                options.poolsPath = watcherDir.map { ($0 as NSString).appendingPathComponent("pools.json") } ?? paths?.stateFile
                if let watcherDir {
                    try FileManager.default.createDirectory(atPath: watcherDir, withIntermediateDirectories: true)
                    options.statusPath = (watcherDir as NSString).appendingPathComponent("status.json")
                    options.checkpointPath = (watcherDir as NSString).appendingPathComponent("position.json")
                    options.maintenancePath = (watcherDir as NSString).appendingPathComponent("maintenance.json")
                    if events != nil { options.eventsCheckpointPath = (watcherDir as NSString).appendingPathComponent("events-position.json") }
                } else {
                    options.maintenancePath = paths?.maintenanceFile
                }
                var reopen: (() -> Bool)?
                if let rotatePid, !once, logPath != "-" {
                    guard rotatePid >= 1 else { throw ValidationError("--rotate-pid: expected a process id (1 or more), found \(rotatePid)") }
                    let logs = loaded?.logs ?? LogsSpec()
                    options.rotation = LogRotation.Policy(maxSize: logs.maxSize.bytes, keep: logs.keep)
                    reopen = { NginxMaster.reopenLogs(pid: rotatePid) }
                }
                let settings: WatchSettings
                let targets: [AlertTarget]
                if let loaded {
                    settings = WatchSetup.settings(loaded)
                    targets = WatchSetup.targets(loaded)
                } else {
                    // Alerts still need a name to start with: the log's, as the only thing that was named.
                    let name = logPath == "-" ? "standard input" : SafeText.terminal((logPath as NSString).lastPathComponent)
                    settings = WatchSetup.settings(WatchSpec(), project: name)
                    targets = []
                    Terminal.stderr("watch: no \(spec.path) here: the spec's default thresholds, no alert targets")
                }
                let delivery = targets.isEmpty ? nil : Delivery(targets: targets) { Terminal.stderr("watch: " + $0) }
                let printJSON = json
                let runsUntilStopped = !once && seconds == nil
                let address = try metricsAddress((loaded?.watch ?? WatchSpec()).metrics, runsUntilStopped: runsUntilStopped)
                let metrics = address != nil || metricsDump
                    ? WatchMetrics(version: BuildInfo.version, targets: targets.map(\.name)) : nil
                // A run with an end (--once, --for) was asked for metrics on the command line: an address in
                // use is an error at start. A watcher that runs until stopped alerts whether or not its
                // metrics are served: it says so once and binds again every 30 s.
                var server: MetricsServer?
                var retrying: RetryingMetricsServer?
                if let address, let metrics {
                    if runsUntilStopped {
                        let retry = RetryingMetricsServer(
                            host: address.host, port: address.port, retryInterval: Self.metricsRetrySeconds,
                            unavailable: { Terminal.stderr(Terminal.style("!", .yellow) + " watch: " + $0.notServedWarning(retryInterval: Self.metricsRetrySeconds)) },
                            bound: { Terminal.stderr("watch: metrics now served on http://\($0.host):\($0.port)/metrics") },
                            render: metrics.exposition)
                        retrying = retry
                        server = retry.server
                    } else {
                        server = try MetricsServer(host: address.host, port: address.port, render: metrics.exposition)
                    }
                }
                defer {
                    server?.stop()
                    retrying?.stop()
                }
                // With --metrics-dump, stdout carries the metrics only.
                let say: (String) -> Void = metricsDump ? { Terminal.stderr($0) } : { Terminal.stdout($0) }
                StopSignal.install(hangup: false)
                if !once {
                    Terminal.stderr("watch: following \(logPath == "-" ? "standard input" : SafeText.terminal(logPath)) (window \(settings.window) requests / \(Int(settings.windowSeconds)) s, threshold \(settings.errorRateThreshold)%, \(targets.count) alert target\(targets.count == 1 ? "" : "s"))\(server.map { "; metrics on http://\($0.host):\($0.port)/metrics" } ?? "")")
                }
                // The live pool for container events: the route, as the proxy reads it, when it is known.
                let routeFolder = route.map { RouteFolder(folder: $0) }
                let livePool: (() -> String?)? = routeFolder.map { folder in { folder.read().route?.live.rawValue } }
                let loop = WatchLoop(settings: settings, options: options, delivery: delivery, reopen: reopen,
                                     log: { Terminal.stderr("watch: " + $0) }, metrics: metrics, live: livePool) { notification, record in
                    if printJSON {
                        Terminal.json(Self.jsonLine(record, type: "alert"))
                    } else {
                        let tag = notification.state == .resolved ? Terminal.style("RESOLVED", .green, stderr: false)
                            : Terminal.style("ALERT", .red, stderr: false)
                        say("\(record.at) \(tag) \(record.kind.rawValue): \(SafeText.terminal(record.summary))\(record.suppressed ? " (maintenance: not sent)" : "")")
                    }
                }
                var prober: LiveProber?
                if let route, !once {
                    guard let loaded else { throw ValidationError("--route needs the spec: its pools' preview ports and health path") }
                    prober = LiveProber(spec: loaded, routeFolder: route, watcherDir: watcherDir, report: { loop.report($0) },
                                        say: { Terminal.stderr("watch: " + SafeText.terminal($0)) })
                    prober?.start()
                }
                var certificates: CertificateWatcher?
                let acmeApplied = acmeSettings == nil || loaded.flatMap { spec in
                    spec.proxy.tls?.acme.map { StackPlan.acmeSettings(spec, $0) } } == acmeSettings
                if acme != nil, !once, loaded != nil, !acmeApplied {
                    Terminal.stderr("watch: proxy.hosts or proxy.tls.acme in the spec changed since bgctl up; no certificate renewal until bgctl up applies them")
                }
                if let acme, !once, let loaded, acmeApplied,
                   let renewal = CertificateWatcher.renewal(loaded, root: acme, caFile: acmeCa, cancelled: { StopSignal.requested },
                                                            say: { Terminal.stderr("watch: " + SafeText.terminal($0)) }) {
                    certificates = CertificateWatcher(renewal: renewal, metrics: metrics, report: { loop.report($0) },
                                                      say: { Terminal.stderr("watch: " + SafeText.terminal($0)) })
                    certificates?.start()
                }
                let summary = loop.run { StopSignal.requested }
                prober?.stop()
                certificates?.stop()
                if printJSON {
                    Terminal.json(Self.jsonLine(summary, type: "summary"))
                } else if once || seconds != nil || StopSignal.requested {
                    let pools = summary.byPool.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                    say("watch: \(summary.lines) lines (\(pools.isEmpty ? "no pool" : pools)), \(summary.malformed) malformed, \(summary.status5xx) 5xx, \(summary.retried) retried upstream, \(summary.alerts.filter { $0.state == .firing }.count) alert(s) fired")
                }
                if metricsDump, let metrics {
                    FileHandle.standardOutput.write(Data(metrics.render()))
                }
                if failOnAlert && summary.anyFired { throw CLIError.exit(ExitStatus.alertFired) }
            }
        }

        /// The log, when it is there, must be a regular file (through links): a FIFO or a device
        /// (`/dev/zero`) would hold `--once` forever and a watcher on garbage. "-" is standard input.
        static func checkLog(_ path: String, mustExist: Bool) throws {
            guard path != "-" else { return }
            var info = stat()
            guard stat(path, &info) == 0 else {
                if errno == ENOENT && !mustExist { return }
                let reason = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
                throw CLIError.failed("cannot read \(SafeText.terminal(path)): \(reason)")
            }
            guard info.st_mode & S_IFMT == S_IFREG else {
                throw CLIError.failed("cannot read \(SafeText.terminal(path)): not a regular file (a FIFO, a device or a folder); give the access log's path, or - to read standard input")
            }
        }

        /// The spec, or nil when there is none to read and none is needed: the log was named (`--log`),
        /// no spec was (`-f`, $BGCTL_FILE) and there is no bgctl.yaml. A spec that was named must exist.
        /// On a fleet each host's own watcher runs in its stack, sending its alerts; `bgctl watch` follows
        /// them all together, each line prefixed with its host (`--json`: one object a line, `host` and
        /// `line`), until stopped or `--for` is over. The flags that shape one watcher are refused.
        func watchFleet(_ written: DeploymentSpec, seconds: Double?) throws {
            let refused: [(String, Bool)] = [("--log", log != nil), ("--from-start", fromStart), ("--once", once), ("--fail-on-alert", failOnAlert),
                                             ("--watcher-dir", watcherDir != nil), ("--rotate-pid", rotatePid != nil), ("--metrics-listen", metricsListen != nil),
                                             ("--route", route != nil), ("--acme", acme != nil), ("--events", events != nil), ("--metrics-dump", metricsDump)]
            if let flag = refused.first(where: \.1)?.0 {
                throw ValidationError("\(flag): on a fleet, bgctl watch follows each host's own watcher; run it on one host inside its agent for \(flag)")
            }
            guard let fleet = try StackOptions.fleet(written, spec: spec) else { return }
            StopSignal.install()
            let json = self.json
            let ended = fleet.followWatchers(seconds: seconds, cancelled: { StopSignal.requested }) { host, line in
                if json {
                    let data = (try? JSONSerialization.data(withJSONObject: ["host": host, "line": Terminal.safe(line)], options: [.sortedKeys])) ?? Data("{}".utf8)
                    Terminal.json(String(decoding: data, as: UTF8.self))
                } else {
                    Terminal.stdout("\(host) | \(Terminal.safe(line))")
                }
            }
            for (host, why) in ended where why != nil { Terminal.stderr(Terminal.style("!", .yellow) + " \(host): \(Terminal.safe(why!))") }
            if !StopSignal.requested && seconds == nil && ended.contains(where: { $0.1 != nil }) { throw CLIError.exit(ExitStatus.failed) }
        }

        static func spec(_ options: SpecOptions, log: String?) throws -> DeploymentSpec? {
            if log != nil && options.named == nil {
                var info = stat()
                if lstat(options.path, &info) != 0 && errno == ENOENT { return nil }
            }
            // The watcher's container is given only the variables of the keys it reads.
            return try options.load(for: .watcher)
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
