import Foundation
import Testing
@testable import Watcher

/// The sample lines of an exposition, by series (`name{labels}`), with their values as written.
func samples(_ exposition: [UInt8]) -> [String: String] {
    var result: [String: String] = [:]
    for line in String(decoding: exposition, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " ") else { continue }
        result[String(line[..<space])] = String(line[line.index(after: space)...])
    }
    return result
}

/// The sum of every series of one metric (any labels).
func total(_ exposition: [UInt8], _ name: String) -> Double {
    samples(exposition).filter { $0.key == name || $0.key.hasPrefix(name + "{") }.values.reduce(0) { $0 + (Double($1) ?? .nan) }
}

func record(status: Int, pool: PoolTag = .blue, live: PoolTag = .blue, seconds: Double = -1, attempts: Int = 1) -> LogRecord {
    var record = LogRecord()
    record.status = status
    record.pool = pool
    record.live = live
    record.requestTime = seconds
    record.upstreamAttempts = attempts
    return record
}

extension WatchMetrics {
    /// What a scrape sees once the loop has flushed.
    func rendered() -> [UInt8] {
        flush()
        return render()
    }
}

@Suite struct MetricsExpositionTests {
    @Test func countsReachTheRegistryAtTheFlushNotBefore() {
        let metrics = WatchMetrics(version: "t", targets: [])
        metrics.observe(record(status: 200), retried: true, failover: false)
        metrics.observeMalformed()
        #expect(total(metrics.render(), "bgctl_requests_total") == 0)
        #expect(samples(metrics.render())["bgctl_log_lines_total"] == "0")
        metrics.flush()
        metrics.flush()
        let lines = samples(metrics.render())
        #expect(lines["bgctl_requests_total{pool=\"blue\",class=\"2xx\"}"] == "1")
        #expect(lines["bgctl_upstream_retries_total"] == "1")
        #expect(lines["bgctl_log_lines_total"] == "2" && lines["bgctl_log_lines_malformed_total"] == "1")
    }

    @Test func labelValuesEscapeBackslashDoubleQuoteAndNewline() {
        let metrics = WatchMetrics(version: "1.0\\beta \"x\"\nnext", targets: ["hook \"a\"\\b\nc"])
        let text = String(decoding: metrics.rendered(), as: UTF8.self)
        #expect(text.contains(#"bgctl_build_info{version="1.0\\beta \"x\"\nnext"} 1.0"#), "\(text)")
        #expect(text.contains(#"bgctl_delivery_failures_total{target="hook \"a\"\\b\nc"} 0"#), "\(text)")
        // The newline never reaches the output raw: every line is a comment or a sample.
        for line in text.split(separator: "\n") {
            #expect(line.hasPrefix("#") || line.hasPrefix("bgctl_"), "stray line: \(line)")
        }
    }

    @Test func theBucketOfATimeMatchesTheListOfBoundsAtAndJustPastEachBound() {
        #expect(PendingCounts.width == WatchMetrics.durationBuckets.count + 1, "the bounds and one past them")
        for (index, bound) in WatchMetrics.durationBuckets.enumerated() {
            #expect(DurationBuckets.bucket(bound) == index, "\(bound)")
            #expect(DurationBuckets.bucket(bound.nextUp) == index + 1, "\(bound.nextUp)")
        }
        #expect(DurationBuckets.bucket(0) == 0 && DurationBuckets.bucket(1e9) == 11 && DurationBuckets.bucket(.infinity) == 11)
    }

    @Test func ownLabelValuesAreEscapedAsTheFormatRequires() {
        #expect(Exposition.escape(#"a\b"c"# + "\nd") == #"a\\b\"c\nd"#)
        #expect(Exposition.escape("blue") == "blue" && Exposition.escape("") == "")
    }

    @Test func theHistogramIsLeftOutUntilARequestHasATimeAndPoolsComeInAFixedOrder() {
        let metrics = WatchMetrics(version: "t", targets: [])
        #expect(!String(decoding: metrics.rendered(), as: UTF8.self).contains("bgctl_request_duration_seconds"))
        metrics.observe(record(status: 200, pool: .green, seconds: 0.1), retried: false, failover: false)
        metrics.observe(record(status: 200, pool: .blue, seconds: 0.1), retried: false, failover: false)
        let text = String(decoding: metrics.rendered(), as: UTF8.self)
        #expect(text.contains("# TYPE bgctl_request_duration_seconds histogram\n"))
        let blue = try! #require(text.range(of: "_count{pool=\"blue\"}"))
        let green = try! #require(text.range(of: "_count{pool=\"green\"}"))
        #expect(blue.lowerBound < green.lowerBound)
    }

    @Test func histogramBucketsAreCumulativeWithInfSumAndCount() {
        let metrics = WatchMetrics(version: "t", targets: [])
        // On a bound (0.005, 0.5), just past one (0.0051), and past the last bound (20).
        for seconds in [0.005, 0.0051, 0.02, 0.5, 20] {
            metrics.observe(record(status: 200, seconds: seconds), retried: false, failover: false)
        }
        let lines = samples(metrics.rendered())
        let bucket = { (le: String) in lines["bgctl_request_duration_seconds_bucket{pool=\"blue\",le=\"\(le)\"}"] }
        #expect(bucket("0.005") == "1")
        #expect(bucket("0.01") == "2")
        #expect(bucket("0.025") == "3")
        #expect(bucket("0.05") == "3")
        #expect(bucket("0.25") == "3")
        #expect(bucket("0.5") == "4")
        #expect(bucket("10.0") == "4")
        #expect(bucket("+Inf") == "5")
        #expect(lines["bgctl_request_duration_seconds_count{pool=\"blue\"}"] == "5")
        #expect(Double(lines["bgctl_request_duration_seconds_sum{pool=\"blue\"}"] ?? "").map { abs($0 - 20.5301) < 1e-9 } == true)
        let counts = WatchMetrics.durationBuckets.compactMap { bucket(String($0)).flatMap(Int.init) }
        #expect(counts.count == WatchMetrics.durationBuckets.count && counts == counts.sorted(), "\(counts)")
    }

    @Test func aRequestWithoutRequestTimeIsCountedButNotTimed() {
        let metrics = WatchMetrics(version: "t", targets: [])
        metrics.observe(record(status: 200, seconds: -1), retried: false, failover: false)
        let lines = samples(metrics.rendered())
        #expect(lines["bgctl_requests_total{pool=\"blue\",class=\"2xx\"}"] == "1")
        #expect(lines["bgctl_request_duration_seconds_count{pool=\"blue\"}"] == nil)
    }

    @Test(arguments: [(100, "1xx"), (199, "1xx"), (200, "2xx"), (399, "3xx"), (404, "4xx"), (499, "4xx"), (500, "5xx"), (599, "5xx")])
    func requestsAreCountedByStatusClass(status: Int, statusClass: String) {
        let metrics = WatchMetrics(version: "t", targets: [])
        metrics.observe(record(status: status, pool: .green), retried: false, failover: false)
        let lines = samples(metrics.rendered())
        #expect(lines["bgctl_requests_total{pool=\"green\",class=\"\(statusClass)\"}"] == "1")
        #expect(total(metrics.rendered(), "bgctl_requests_total") == 1)
    }

    @Test func aLineWithoutAPoolIsCountedUnderAnEmptyPoolLabel() {
        let metrics = WatchMetrics(version: "t", targets: [])
        metrics.observe(record(status: 503, pool: .none, live: .none), retried: false, failover: false)
        #expect(samples(metrics.rendered())["bgctl_requests_total{pool=\"\",class=\"5xx\"}"] == "1")
    }

    @Test func retriesFailoversAndMalformedLinesHaveTheirOwnCounters() {
        let metrics = WatchMetrics(version: "t", targets: [])
        metrics.observe(record(status: 200, attempts: 2), retried: true, failover: false)
        metrics.observe(record(status: 200, pool: .green), retried: false, failover: true)
        metrics.observeMalformed()
        metrics.tooLong(total: 2)
        metrics.tooLong(total: 2)
        let lines = samples(metrics.rendered())
        #expect(lines["bgctl_upstream_retries_total"] == "1")
        #expect(lines["bgctl_failovers_total"] == "1")
        #expect(lines["bgctl_log_lines_total"] == "5", "2 records, 1 malformed, 2 too long (counted once)")
        #expect(lines["bgctl_log_lines_malformed_total"] == "3")
    }

    @Test func deliveryFailuresFollowTheRunningFiguresWithoutCountingTwice() {
        let metrics = WatchMetrics(version: "t", targets: ["slack"])
        #expect(samples(metrics.rendered())["bgctl_delivery_failures_total{target=\"slack\"}"] == "0")
        var stats = Delivery.Stats()
        stats.failed = 2
        stats.dropped = 1
        metrics.deliveries(["slack": stats])
        metrics.deliveries(["slack": stats])
        #expect(samples(metrics.rendered())["bgctl_delivery_failures_total{target=\"slack\"}"] == "3")
        stats.failed = 3
        metrics.deliveries(["slack": stats, "webhook 1": Delivery.Stats()])
        let lines = samples(metrics.rendered())
        #expect(lines["bgctl_delivery_failures_total{target=\"slack\"}"] == "4")
        #expect(lines["bgctl_delivery_failures_total{target=\"webhook 1\"}"] == "0")
    }

    @Test func alertGaugesAndSentCountersExistFromTheStartForEveryKind() {
        let metrics = WatchMetrics(version: "t", targets: [])
        metrics.alert(.failover, firing: true)
        metrics.alertSent(.failover)
        let lines = samples(metrics.rendered())
        for kind in AlertKind.allCases {
            #expect(lines["bgctl_alerts_firing{kind=\"\(kind.rawValue)\"}"] == (kind == .failover ? "1.0" : "0.0"))
            #expect(lines["bgctl_alerts_sent_total{kind=\"\(kind.rawValue)\"}"] == (kind == .failover ? "1" : "0"))
        }
        metrics.alert(.failover, firing: false)
        #expect(samples(metrics.rendered())["bgctl_alerts_firing{kind=\"failover\"}"] == "0.0")
    }

    @Test func poolWeightsAppearWhenKnownAndGoWhenNot() {
        let metrics = WatchMetrics(version: "t", targets: [])
        #expect(!String(decoding: metrics.rendered(), as: UTF8.self).contains("bgctl_pool_weight"))
        metrics.poolWeights(["blue": 95, "green": 5])
        var lines = samples(metrics.rendered())
        #expect(lines["bgctl_pool_weight{pool=\"blue\"}"] == "95.0" && lines["bgctl_pool_weight{pool=\"green\"}"] == "5.0")
        metrics.poolWeights(["blue": 0, "green": 100])
        lines = samples(metrics.rendered())
        #expect(lines["bgctl_pool_weight{pool=\"blue\"}"] == "0.0" && lines["bgctl_pool_weight{pool=\"green\"}"] == "100.0")
        metrics.poolWeights(nil)
        #expect(!String(decoding: metrics.rendered(), as: UTF8.self).contains("bgctl_pool_weight{"))
    }

    @Test func aNegativeOrNonFiniteTailLagIsZero() {
        let metrics = WatchMetrics(version: "t", targets: [])
        metrics.tailLag(-3)
        #expect(samples(metrics.rendered())["bgctl_tail_lag_seconds"] == "0.0")
        metrics.tailLag(.nan)
        #expect(samples(metrics.rendered())["bgctl_tail_lag_seconds"] == "0.0")
        metrics.tailLag(2.5)
        #expect(samples(metrics.rendered())["bgctl_tail_lag_seconds"] == "2.5")
    }
}

@Suite struct PoolWeightsTests {
    @Test func theLivePoolGetsAllTraffic() {
        #expect(PoolWeights.parse(Data(#"{"live":"green","deployed":{"blue":{"env":{"K":"secret"}}}}"#.utf8)) == ["blue": 0, "green": 100])
    }

    @Test func weightsAreTakenAsWrittenAndAMissingPoolIsZero() {
        #expect(PoolWeights.parse(Data(#"{"live":"blue","weights":{"blue":95,"green":5}}"#.utf8)) == ["blue": 95, "green": 5])
        #expect(PoolWeights.parse(Data(#"{"weights":{"green":100}}"#.utf8)) == ["blue": 0, "green": 100])
        #expect(PoolWeights.parse(Data(#"{"weights":{"blue":0}}"#.utf8)) == ["blue": 0, "green": 0])
    }

    @Test(arguments: [
        #"{"live":"purple"}"#, #"{}"#, #"not json"#, #"{"live":"blue","weights":{"blue":101}}"#,
        #"{"live":"blue","weights":{"blue":-1}}"#, #"{"live":"blue","weights":{"red":5}}"#,
        #"{"live":"blue","weights":{"blue":true}}"#, #"{"live":"blue","weights":{"blue":50.5}}"#,
        #"{"live":"blue","weights":{}}"#, #"{"live":"blue","weights":[100,0]}"#,
    ])
    func whatSaysNeitherGivesNothing(text: String) {
        #expect(PoolWeights.parse(Data(text.utf8)) == nil)
    }

    @Test func theBoundariesOfAWeightAreAccepted() {
        #expect(PoolWeights.parse(Data(#"{"weights":{"blue":100,"green":0}}"#.utf8)) == ["blue": 100, "green": 0])
    }

    @Test func theSnapshotReadsBackAsTheSameWeights() {
        #expect(PoolWeights.parse(PoolWeights.snapshot(live: "blue")) == ["blue": 100, "green": 0])
        #expect(PoolWeights.parse(PoolWeights.snapshot(live: "blue", weights: ["blue": 90, "green": 10])) == ["blue": 90, "green": 10])
    }
}
