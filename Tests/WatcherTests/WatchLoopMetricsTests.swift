import Foundation
import Support
import Testing
@testable import Watcher

/// The watcher loop feeds the metrics: every line it reads is counted once, whatever the log goes through.
@Suite struct WatchLoopMetricsTests {
    @Test func nLogLinesThroughTheLoopSumToNRequests() throws {
        let file = LogFile()
        let n = 257
        var text = ""
        for id in 0..<n {
            let status = [200, 201, 304, 404, 502][id % 5]
            let pool = ["blue", "green", ""][id % 3]
            text += #"{"msec":"1000.\#(id % 10)","status":\#(status),"pool":"\#(pool)","live":"blue","request_time":"0.0\#(id % 10)","uri":"/\#(id)"}"# + "\n"
        }
        file.write(text + "not a record\n\n")
        var options = WatchOptions(logPath: file.path)
        options.fromStart = true
        options.once = true
        let metrics = WatchMetrics(version: "t", targets: [])
        let summary = WatchLoop(settings: WatchSettings(project: "shop"), options: options, delivery: nil, clock: { 2000 },
                                metrics: metrics) { _, _ in }.run(stop: { false })
        let exposition = metrics.render()
        #expect(summary.lines == n)
        #expect(total(exposition, "bgctl_requests_total") == Double(n))
        #expect(total(exposition, "bgctl_request_duration_seconds_count") == Double(n))
        let lines = samples(exposition)
        #expect(lines["bgctl_requests_total{pool=\"\",class=\"5xx\"}"] != nil, "lines without a pool are counted under pool=\"\"")
        #expect(lines["bgctl_log_lines_total"] == "\(n + 1)", "the blank line is not a line; the malformed one is")
        #expect(lines["bgctl_log_lines_malformed_total"] == "1")
        #expect(lines["bgctl_tail_lag_seconds"] == "0.0", "caught up")
    }

    @Test func countersNeverGoBackAcrossRotationAndTruncation() throws {
        let file = LogFile()
        file.write("")
        var options = WatchOptions(logPath: file.path)
        options.fromStart = true
        let metrics = WatchMetrics(version: "t", targets: [])
        var calls = 0
        var written = 0
        var seen: [Double] = []
        var now = 1000.0
        let summary = WatchLoop(settings: WatchSettings(project: "shop"), options: options, delivery: nil,
                                clock: { now += 0.01; return now }, metrics: metrics) { _, _ in }.run(stop: {
            calls += 1
            seen.append(total(metrics.render(), "bgctl_requests_total"))
            // Each call comes after a pass that read everything written before it (50 short lines).
            switch calls {
            case 4:
                // copytruncate: the log is cut to nothing in place; the writer keeps its descriptor.
                truncate(file.path, 0)
            case 7:
                // rename and reopen, as a rotation does.
                rename(file.path, file.path + ".1")
                file.reopen()
            default:
                break
            }
            if calls <= 9 {
                for _ in 0..<50 {
                    file.write(file.line(written))
                    written += 1
                }
            }
            return calls > 12
        })
        #expect(summary.truncations >= 1 && summary.rotations >= 1, "truncations \(summary.truncations), rotations \(summary.rotations)")
        #expect(seen == seen.sorted(), "the request counter went back: \(seen)")
        #expect(total(metrics.render(), "bgctl_requests_total") == Double(written))
        #expect(written == 450)
    }

    @Test func thePoolWeightFollowsTheFileAndIsLeftOutWithoutIt() throws {
        let file = LogFile()
        file.write(file.line(0))
        let pools = file.dir + "/pools.json"
        try AtomicFile.write(#"{"live":"green"}"#, to: pools)
        var options = WatchOptions(logPath: file.path)
        options.fromStart = true
        options.once = true
        options.poolsPath = pools
        let metrics = WatchMetrics(version: "t", targets: [])
        _ = WatchLoop(settings: WatchSettings(project: "shop"), options: options, delivery: nil, clock: { 2000 },
                      metrics: metrics) { _, _ in }.run(stop: { false })
        var lines = samples(metrics.render())
        #expect(lines["bgctl_pool_weight{pool=\"green\"}"] == "100.0" && lines["bgctl_pool_weight{pool=\"blue\"}"] == "0.0")

        options.poolsPath = file.dir + "/missing.json"
        let without = WatchMetrics(version: "t", targets: [])
        _ = WatchLoop(settings: WatchSettings(project: "shop"), options: options, delivery: nil, clock: { 2000 },
                      metrics: without) { _, _ in }.run(stop: { false })
        lines = samples(without.render())
        #expect(!lines.keys.contains { $0.hasPrefix("bgctl_pool_weight") })
    }

    @Test func aRunningLoopTakesANewLivePoolAndDropsTheMetricWhenTheFileGoes() throws {
        let file = LogFile()
        file.write(file.line(0))
        let pools = file.dir + "/pools.json"
        try AtomicFile.write(#"{"live":"blue"}"#, to: pools)
        var options = WatchOptions(logPath: file.path)
        options.fromStart = true
        options.poolsPath = pools
        let metrics = WatchMetrics(version: "t", targets: [])
        var now = 1000.0
        var calls = 0
        var observed: [String?] = []
        _ = WatchLoop(settings: WatchSettings(project: "shop"), options: options, delivery: nil,
                      clock: { now += 0.6; return now }, metrics: metrics) { _, _ in }.run(stop: {
            calls += 1
            observed.append(samples(metrics.render())["bgctl_pool_weight{pool=\"green\"}"])
            if calls == 3 { try? AtomicFile.write(#"{"live":"green","weights":{"blue":10,"green":90}}"#, to: pools) }
            if calls == 6 { unlink(pools) }
            return calls > 9
        })
        #expect(observed.first == "0.0")
        #expect(observed.contains("90.0"), "\(observed)")
        #expect(observed.last == .some(nil), "\(observed)")
    }

    @Test func theTailLagIsTheAgeOfTheLastLineReadWhileBehind() throws {
        let file = LogFile()
        // More than one batch (256 KiB): the first pass stops behind.
        var text = ""
        for id in 0..<6000 { text += #"{"msec":"1000.5","status":200,"pool":"blue","uri":"/\#(id)"}"# + "\n" }
        file.write(text)
        var options = WatchOptions(logPath: file.path)
        options.fromStart = true
        options.once = true
        let metrics = WatchMetrics(version: "t", targets: [])
        var lags: [String?] = []
        let loop = WatchLoop(settings: WatchSettings(project: "shop"), options: options, delivery: nil, clock: { 1010.5 },
                             metrics: metrics) { _, _ in }
        _ = loop.run(stop: {
            lags.append(samples(metrics.render())["bgctl_tail_lag_seconds"])
            return false
        })
        #expect(lags.first == "10.0", "\(lags)")
        #expect(samples(metrics.render())["bgctl_tail_lag_seconds"] == "0.0")
    }
}
