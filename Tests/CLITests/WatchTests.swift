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

    @Test func aLogThatDoesNotExistExits1SayingItCannotBeRead() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let outcome = try sandbox.run(["watch", "--once", "--log", "/nonexistent"])
        #expect(outcome.status == 1, "\(outcome)")
        #expect(outcome.stderr.contains("cannot read"), "\(outcome)")
        #expect(outcome.stderr.contains("/nonexistent"), "\(outcome)")
        expectOwnMessage(outcome)
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
