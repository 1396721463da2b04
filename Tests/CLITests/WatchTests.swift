import Foundation
import Testing

@Suite struct WatchTests {
    /// One access-log line in the proxy's bgctl_json format (templates/bgctl.conf.mustache).
    static func line(status: Int, index: Int) -> String {
        let upstream = status >= 500 ? "\(status)" : "200"
        return #"{"time":"2026-11-26T15:16:52+00:00","msec":1795706212.\#(100 + index),"request_id":"r\#(index)","remote_addr":"127.0.0.1","method":"GET","uri":"/orders/\#(index)","status":\#(status),"bytes_sent":120,"request_time":0.004,"upstream_addr":"172.29.41.10:3000","upstream_status":"\#(upstream)","upstream_response_time":"0.003","pool":"blue","live":"blue","release":"cli-1","user_agent":"curl/8"}"#
    }

    /// Far more requests than watch.min_requests (20) and 5xx far above the default threshold (2 %).
    static func log(statuses: [Int]) -> String {
        statuses.enumerated().map { line(status: $0.element, index: $0.offset) }.joined(separator: "\n") + "\n"
    }

    @Test func anErrorRateAboveTheThresholdExits5WithFailOnAlert() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let log = try sandbox.write(Self.log(statuses: Array(repeating: 200, count: 50) + Array(repeating: 502, count: 50)), to: "access.log")
        let outcome = try sandbox.run(["watch", "--once", "--log", log, "--fail-on-alert"])
        #expect(outcome.status == 5, "\(outcome)")
        #expect(outcome.stdout.contains("ALERT"), "\(outcome)")
        #expect(outcome.stdout.contains("50 5xx"), "\(outcome)")
        expectOwnMessage(outcome)
    }

    /// The watcher's container is given only the variables of watch and alerts: the app's need not be set.
    @Test func aWatchRunsWithoutTheAppsRequiredSecretAndSaysNothingOfIt() throws {
        let sandbox = try Sandbox()
        let spec = MinimalSpec.lines(stateDirectory: sandbox.stateDirectory).joined(separator: "\n") + "\n"
        try sandbox.writeSpec(spec.replacingOccurrences(of: "  port: 3000\n", with: "  port: 3000\n  env: {DB_PASSWORD: \"${DB_PASSWORD:?}\"}\n"))
        #expect(try sandbox.run(["validate"]).status == 65, "the stack still needs it")
        let log = try sandbox.write(Self.log(statuses: Array(repeating: 200, count: 30)), to: "access.log")
        let outcome = try sandbox.run(["watch", "--once", "--log", log])
        #expect(outcome.status == 0 && outcome.stderr.isEmpty, "\(outcome)")
        #expect(outcome.stdout.contains("30 lines"), "\(outcome)")
    }

    /// The events container's file beside the log: the idle pool killed (and not removed) is an alert
    /// naming it, a pool recreated by an operation (its death, then its removal) is none.
    @Test func theIdlePoolKilledInTheEventsFileIsAnAlertAndARecreatedPoolIsNot() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let log = try sandbox.write(Self.log(statuses: Array(repeating: 200, count: 30)), to: "access.log")
        let event = { (action: String, pool: String, at: Int, extra: String) in
            #"{"action":"\#(action)","container":"shop-\#(pool)",\#(extra)"pool":"\#(pool)","role":"pool","time_nano":\#(1_795_706_212_000_000_000 + at)}"#
        }
        let events = try sandbox.write([
            event("kill", "blue", 0, ""), event("die", "blue", 1, #""exit_code":137,"#), event("destroy", "blue", 2, ""),
            event("start", "blue", 3, ""),
            event("kill", "green", 1_000_000_000, ""), event("die", "green", 1_000_000_001, #""exit_code":137,"#),
            #"{"action":"die","container":"shop green","role":"pool","pool":"green","time_nano":1795706213000000002}"#,
        ].joined(separator: "\n") + "\n", to: "events.jsonl")
        let outcome = try sandbox.run(["watch", "--once", "--log", log, "--events", events, "--json", "--fail-on-alert"])
        #expect(outcome.status == 5, "\(outcome)")
        let alerts = try outcome.stdout.split(separator: "\n").compactMap { line in
            try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }.filter { $0["type"] as? String == "alert" }
        #expect(alerts.map { $0["kind"] as? String } == ["idle_pool_down"], "\(outcome)")
        #expect(alerts.first?["pool"] as? String == "green" && alerts.first?["live"] as? String == "blue", "\(outcome)")
        #expect((alerts.first?["summary"] as? String)?.contains("a failover has nothing to fail over to") == true, "\(outcome)")
    }

    @Test func onlySuccessfulRequestsExit0WithFailOnAlert() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let log = try sandbox.write(Self.log(statuses: Array(repeating: 200, count: 100)), to: "access.log")
        let outcome = try sandbox.run(["watch", "--once", "--log", log, "--fail-on-alert"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(!outcome.stdout.contains("ALERT"), "\(outcome)")
        #expect(outcome.stdout.contains("100 lines"), "\(outcome)")
        #expect(outcome.stdout.contains("0 alert"), "\(outcome)")
    }

    @Test func everyJSONLineSaysItsType() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let log = try sandbox.write(Self.log(statuses: Array(repeating: 200, count: 50) + Array(repeating: 502, count: 50)), to: "access.log")
        let outcome = try sandbox.run(["watch", "--once", "--log", log, "--json"])
        #expect(outcome.status == 0, "\(outcome)")
        let types = try outcome.stdout.split(separator: "\n").map { line -> String in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["type"] as? String ?? "none"
        }
        #expect(types.first == "alert", "\(outcome)")
        #expect(types.last == "summary", "\(outcome)")
        #expect(types.allSatisfy { $0 == "alert" || $0 == "summary" }, "\(types)")
    }

    /// Summarising a log needs no spec: the spec's default thresholds apply, nothing is sent.
    @Test func onceWithALogAndNoSpecUsesTheDefaultThresholds() throws {
        let sandbox = try Sandbox()
        let log = try sandbox.write(Self.log(statuses: Array(repeating: 200, count: 50) + Array(repeating: 502, count: 50)), to: "access.log")
        let outcome = try sandbox.run(["watch", "--once", "--log", log, "--fail-on-alert"])
        #expect(outcome.status == 5, "\(outcome)")
        #expect(outcome.stdout.contains("ALERT error_rate: access.log: error rate"), "\(outcome)")
        #expect(outcome.stdout.contains("100 lines (blue 100)"), "\(outcome)")
        #expect(outcome.stderr.contains("no bgctl.yaml here"), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.work.appendingPathComponent("bgctl.yaml").path))
        expectOwnMessage(outcome)
    }

    /// The default threshold is 2 %: 1 error in 100 requests is below it, 3 are above.
    @Test(arguments: [(1, 0), (3, 5)] as [(Int, Int32)])
    func withoutASpecTheDefaultThresholdDecides(errors: Int, status: Int32) throws {
        let sandbox = try Sandbox()
        let log = try sandbox.write(Self.log(statuses: Array(repeating: 200, count: 100 - errors) + Array(repeating: 502, count: errors)), to: "access.log")
        let outcome = try sandbox.run(["watch", "--once", "--json", "--log", log, "--fail-on-alert"])
        #expect(outcome.status == status, "\(outcome)")
        #expect(outcome.stdout.contains(#""type":"summary""#), "\(outcome)")
    }

    /// A spec that was named must be there, whether by -f (before or after the subcommand) or BGCTL_FILE.
    @Test(arguments: [
        (["watch", "-f", "missing.yaml", "--once"], [:]),
        (["-f", "missing.yaml", "watch", "--once"], [:]),
        (["watch", "--once"], ["BGCTL_FILE": "missing.yaml"]),
    ] as [([String], [String: String])])
    func aNamedSpecThatDoesNotExistStillFails(_ arguments: [String], environment: [String: String]) throws {
        let sandbox = try Sandbox()
        let log = try sandbox.write(Self.log(statuses: [200]), to: "access.log")
        let outcome = try sandbox.run(arguments + ["--log", log], environment: environment)
        #expect(outcome.status == 65, "\(outcome)")
        #expect(outcome.stderr.contains("cannot read missing.yaml"), "\(outcome)")
        #expect(outcome.stdout.isEmpty, "\(outcome)")
    }

    @Test func withoutALogAWatchStillNeedsTheSpec() throws {
        let outcome = try Sandbox().run(["watch", "--once"])
        #expect(outcome.status == 65, "\(outcome)")
        #expect(outcome.stderr.contains("cannot read bgctl.yaml"), "\(outcome)")
    }

    @Test func aLogThatDoesNotExistExits1SayingItCannotBeRead() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let outcome = try sandbox.run(["watch", "--once", "--log", "/nonexistent"])
        #expect(outcome.status == 1, "\(outcome)")
        #expect(outcome.stderr.contains("cannot read"), "\(outcome)")
        #expect(outcome.stderr.contains("/nonexistent"), "\(outcome)")
        expectOwnMessage(outcome)
    }

    /// A link to /dev/zero, a FIFO, a device or a folder as the log: refused at once, with or without --once.
    @Test(arguments: [(["--once"], "zero-link"), (["--once"], "fifo"), (["--for", "1s"], "fifo"), (["--once"], "/dev/null"),
                      (["--for", "1s"], "/dev/zero"), (["--once"], "folder")])
    func aLogThatIsNotARegularFileIsRefused(_ flags: [String], kind: String) throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let path: String
        switch kind {
        case "zero-link":
            path = sandbox.work.appendingPathComponent("access.log").path
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "/dev/zero")
        case "fifo":
            path = sandbox.work.appendingPathComponent("access.log").path
            #expect(mkfifo(path, 0o600) == 0)
        case "folder":
            path = sandbox.work.appendingPathComponent("logs").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        default:
            path = kind
        }
        let outcome = try sandbox.run(["watch"] + flags + ["--log", path], timeout: 5)
        #expect(outcome.status == 1, "\(outcome)")
        #expect(outcome.stderr.contains("not a regular file (a FIFO, a device or a folder)"), "\(outcome)")
        expectOwnMessage(outcome)
    }

    /// The README and the systemd unit promise a stop within 10 s; a webhook that takes the connection
    /// and never answers held the watcher 11.8 s (a 10 s grace for deliveries, then the listeners).
    @Test func onSIGTERMAHungWebhookStillLetsTheWatcherStopWithinTenSeconds() throws {
        let sandbox = try Sandbox()
        let hung = try TakenPort()
        var lines = MinimalSpec.lines(stateDirectory: sandbox.stateDirectory)
        lines.append("alerts: {webhooks: [{url: \"http://127.0.0.1:\(hung.port)/hook\"}]}")
        try sandbox.writeSpec(lines.joined(separator: "\n") + "\n")
        let log = try sandbox.write(Self.log(statuses: Array(repeating: 502, count: 50)), to: "access.log")
        let sent = 1.5
        let started = Date()
        let outcome = try sandbox.run(["watch", "--log", log, "--from-start", "--metrics-listen", "off"], timeout: 15, terminateAfter: sent)
        let stopping = Date().timeIntervalSince(started) - sent
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout.contains("ALERT error_rate"), "an alert was on its way: \(outcome)")
        #expect(stopping < 10, "took \(stopping) s after SIGTERM: \(outcome)")
    }

    @Test func aLinkToARegularLogIsFollowed() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let target = try sandbox.write(Self.log(statuses: [200, 200]), to: "real.log")
        try FileManager.default.createSymbolicLink(atPath: sandbox.work.appendingPathComponent("access.log").path, withDestinationPath: target)
        let outcome = try sandbox.run(["watch", "--once", "--json", "--log", sandbox.work.appendingPathComponent("access.log").path], timeout: 5)
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout.contains("\"lines\":2"), "\(outcome)")
    }
}

/// Commands that touch only the spec's state folder, so they run without Docker.
@Suite struct StateCommandTests {
    @Test func historyWithNoHistoryExits0AndPrintsNothing() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let outcome = try sandbox.run(["history"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout.isEmpty, "\(outcome)")
        expectOwnMessage(outcome)
    }

    @Test func unlockWithNoLockExits0SayingNoneWasHeld() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let outcome = try sandbox.run(["unlock"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout.contains("no lock was held"), "\(outcome)")
    }

    @Test func maintenanceIsOnAfterOnAndOffAfterOff() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let steps: [(arguments: [String], says: String)] = [
            (["maintenance", "status"], "maintenance: off"),
            (["maintenance", "on", "--reason", "cli test"], "maintenance: on"),
            (["maintenance", "status"], "maintenance: on"),
            (["maintenance", "off"], "maintenance: off"),
            (["maintenance", "status"], "maintenance: off"),
        ]
        for step in steps {
            let outcome = try sandbox.run(step.arguments)
            #expect(outcome.status == 0, "\(step.arguments): \(outcome)")
            #expect(outcome.stdout.contains(step.says), "\(step.arguments): \(outcome)")
        }
        // Only the state folder changed beside the spec.
        #expect(try FileManager.default.contentsOfDirectory(atPath: sandbox.work.path).sorted() == ["bgctl.yaml", "state"])
        let history = try sandbox.run(["history"])
        #expect(history.status == 0, "\(history)")
        #expect(history.stdout.split(separator: "\n").filter { $0.contains("maintenance") }.count == 2, "\(history)")
    }
}
