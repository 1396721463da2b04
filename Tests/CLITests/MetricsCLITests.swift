import Foundation
import Testing

/// A listening socket on 127.0.0.1 at a port the system chose: an address in use, for as long as it lives.
final class TakenPort {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(bound == 0 && listen(fd, 1) == 0)
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: actual.sin_port))
    }

    deinit { close(fd) }
}

@Suite struct MetricsCLITests {
    /// The minimal spec with `watch.metrics` set to `metrics` (YAML flow text).
    func writeSpec(_ sandbox: Sandbox, metrics: String) throws {
        var lines = MinimalSpec.lines(stateDirectory: sandbox.stateDirectory)
        let watch = try #require(lines.firstIndex(of: "watch:"))
        lines.insert("  metrics: \(metrics)", at: watch + 1)
        try sandbox.writeSpec(lines.joined(separator: "\n") + "\n")
    }

    func samples(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            result[String(line[..<space])] = String(line[line.index(after: space)...])
        }
        return result
    }

    @Test func metricsDumpPrintsOnlyTheExpositionAndTheRequestsSumToTheLines() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let statuses = Array(repeating: 200, count: 37) + Array(repeating: 502, count: 5) + [404]
        let log = try sandbox.write(WatchTests.log(statuses: statuses), to: "access.log")
        let outcome = try sandbox.run(["watch", "--once", "--log", log, "--metrics-dump"])
        #expect(outcome.status == 0, "\(outcome)")
        let lines = samples(outcome.stdout)
        #expect(lines["bgctl_requests_total{pool=\"blue\",class=\"2xx\"}"] == "37", "\(outcome)")
        #expect(lines["bgctl_requests_total{pool=\"blue\",class=\"5xx\"}"] == "5", "\(outcome)")
        #expect(lines["bgctl_requests_total{pool=\"blue\",class=\"4xx\"}"] == "1", "\(outcome)")
        // The version label is the one --version names.
        let version = try sandbox.run(["--version"]).stdout.split(separator: " ").dropFirst().first.map(String.init) ?? "?"
        #expect(lines["bgctl_build_info{version=\"\(version)\"}"] == "1.0", "\(outcome)")
        #expect(outcome.stdout.split(separator: "\n").allSatisfy { $0.hasPrefix("#") || $0.hasPrefix("bgctl_") }, "\(outcome)")
        #expect(outcome.stderr.contains("43 lines"), "the summary goes to stderr: \(outcome)")
        #expect(!lines.keys.contains { $0.hasPrefix("bgctl_pool_weight") }, "no state.json: no weights: \(outcome)")
    }

    @Test func thePoolWeightComesFromTheStacksState() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try FileManager.default.createDirectory(atPath: sandbox.stateDirectory, withIntermediateDirectories: true)
        try #"{"project":"bgctlclitest","live":"green","updated_at":"2026-11-26T10:00:00Z","deployed":{"green":{"image":"a","release":"r","env":{"TOKEN":"secret-value"},"at":""}}}"#
            .write(toFile: sandbox.stateDirectory + "/state.json", atomically: true, encoding: .utf8)
        let log = try sandbox.write(WatchTests.log(statuses: [200]), to: "access.log")
        let outcome = try sandbox.run(["watch", "--once", "--log", log, "--metrics-dump"])
        #expect(outcome.status == 0, "\(outcome)")
        let lines = samples(outcome.stdout)
        #expect(lines["bgctl_pool_weight{pool=\"green\"}"] == "100.0" && lines["bgctl_pool_weight{pool=\"blue\"}"] == "0.0", "\(outcome)")
        #expect(!outcome.stdout.contains("secret-value") && !outcome.stderr.contains("secret-value"))
    }

    @Test func metricsDumpWithJSONIsAUsageError() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let log = try sandbox.write(WatchTests.log(statuses: [200]), to: "access.log")
        let outcome = try sandbox.run(["watch", "--once", "--log", log, "--metrics-dump", "--json"])
        #expect(outcome.status == 64, "\(outcome)")
        #expect(outcome.stderr.contains("--metrics-dump and --json"), "\(outcome)")
    }

    @Test(arguments: ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "localhost:9464", "9464", "127.0.0.1:94x4", ""])
    func aMetricsAddressThatIsNotIPv4AndPortIsAUsageError(address: String) throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let log = try sandbox.write(WatchTests.log(statuses: [200]), to: "access.log")
        let outcome = try sandbox.run(["watch", "--once", "--log", log, "--metrics-listen", address])
        #expect(outcome.status == 64, "\(outcome)")
        #expect(outcome.stderr.contains("--metrics-listen: expected IPV4:PORT"), "\(outcome)")
        expectOwnMessage(outcome)
    }

    @Test func aNonLoopbackAddressFromTheFlagAloneIsRefused() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let log = try sandbox.write(WatchTests.log(statuses: [200]), to: "access.log")
        let outcome = try sandbox.run(["watch", "--once", "--log", log, "--metrics-listen", "0.0.0.0:9464"])
        #expect(outcome.status == 64, "\(outcome)")
        #expect(outcome.stderr.contains("not a loopback address") && outcome.stderr.contains("watch.metrics.listen"), "\(outcome)")
    }

    @Test func aNonLoopbackAddressTheSpecNamesIsServedWithAWarning() throws {
        let sandbox = try Sandbox()
        // A port that was free a moment ago (another process could take it in between: rare).
        let free = try TakenPort().port
        try writeSpec(sandbox, metrics: "{listen: \"0.0.0.0:\(free)\"}")
        let log = try sandbox.write(WatchTests.log(statuses: [200]), to: "access.log")
        let outcome = try sandbox.run(["watch", "--for", "300ms", "--log", log, "--metrics-listen", "0.0.0.0:\(free)"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stderr.contains("metrics served on 0.0.0.0:\(free), reachable from other hosts"), "\(outcome)")
    }

    @Test func anAddressInUseGivenForARunWithAnEndExits1AtStartSayingWhatToDo() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let taken = try TakenPort()
        let log = try sandbox.write(WatchTests.log(statuses: [200]), to: "access.log")
        for run in [["--for", "5s"], ["--once"]] {
            let outcome = try sandbox.run(["watch"] + run + ["--log", log, "--metrics-listen", "127.0.0.1:\(taken.port)"])
            #expect(outcome.status == 1, "69 is Docker unavailable; \(outcome)")
            #expect(outcome.stderr.contains("cannot serve metrics on 127.0.0.1:\(taken.port)"), "\(outcome)")
            #expect(outcome.stderr.contains("address already in use"), "\(outcome)")
            #expect(outcome.stderr.contains("--metrics-listen off"), "\(outcome)")
            expectOwnMessage(outcome)
        }
    }

    @Test func theSpecsAddressInUseLeavesALongRunningWatcherAlertingWithAWarning() throws {
        let sandbox = try Sandbox()
        let taken = try TakenPort()
        try writeSpec(sandbox, metrics: "{listen: \"127.0.0.1:\(taken.port)\"}")
        let log = try sandbox.write(WatchTests.log(statuses: [200, 200, 200]), to: "access.log")
        let outcome = try sandbox.run(["watch", "--log", log, "--from-start"], terminateAfter: 1.5)
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stderr.contains("metrics not served: 127.0.0.1:\(taken.port) is in use (another stack's watcher?); set watch.metrics.listen to a free port; retrying every 30 s"), "\(outcome)")
        #expect(outcome.stderr.components(separatedBy: "metrics not served").count == 2, "said once: \(outcome)")
        #expect(!outcome.stderr.contains("; metrics on http"), "not claimed as served: \(outcome)")
        #expect(outcome.stdout.contains("watch: 3 lines"), "the log was read: \(outcome)")
    }

    @Test func anAddressInUseGivenToALongRunningWatcherIsRetriedToo() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let taken = try TakenPort()
        let log = try sandbox.write(WatchTests.log(statuses: [200]), to: "access.log")
        let outcome = try sandbox.run(["watch", "--log", log, "--from-start", "--metrics-listen", "127.0.0.1:\(taken.port)"],
                                      terminateAfter: 1.5)
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stderr.contains("metrics not served: 127.0.0.1:\(taken.port) is in use"), "\(outcome)")
        #expect(outcome.stdout.contains("watch: 1 lines"), "\(outcome)")
    }

    @Test func offServesNothingEvenWhenTheSpecsAddressIsTaken() throws {
        let sandbox = try Sandbox()
        let taken = try TakenPort()
        try writeSpec(sandbox, metrics: "{listen: \"127.0.0.1:\(taken.port)\"}")
        let log = try sandbox.write(WatchTests.log(statuses: [200]), to: "access.log")
        let outcome = try sandbox.run(["watch", "--for", "200ms", "--log", log, "--metrics-listen", "off"])
        #expect(outcome.status == 0, "\(outcome)")
    }

    @Test func aShortWatchDoesNotServeTheSpecsAddress() throws {
        let sandbox = try Sandbox()
        let taken = try TakenPort()
        try writeSpec(sandbox, metrics: "{listen: \"127.0.0.1:\(taken.port)\"}")
        let log = try sandbox.write(WatchTests.log(statuses: [200]), to: "access.log")
        #expect(try sandbox.run(["watch", "--for", "200ms", "--log", log]).status == 0)
        #expect(try sandbox.run(["watch", "--once", "--log", log]).status == 0)
    }
}
