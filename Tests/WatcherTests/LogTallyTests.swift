import Foundation
import FuzzSupport
import Testing
import Watcher

/// One access-log line as bgctl's nginx writes it.
func accessLine(_ uri: String = "/", status: Int = 200, pool: String = "blue", live: String = "blue",
                upstream: String = "200", time: String = "0.010") -> String {
    #"{"msec":1795706212.295,"method":"GET","uri":"\#(uri)","status":\#(status),"request_time":\#(time),"upstream_status":"\#(upstream)","pool":"\#(pool)","live":"\#(live)"}"# + "\n"
}

@Suite(.serialized) struct LogTallyTests {
    let rules = LogRules(ignorePaths: ["/healthz"], count4xx: false)

    @Test func linesWrittenBeforeBeginAreNotCountedAndLinesAfterAre() {
        let log = LogFile()
        for _ in 0..<5 { log.write(accessLine(status: 500)) }
        let tally = LogTally(path: log.path, rules: rules)
        tally.begin()
        log.write(accessLine() + accessLine(status: 502))
        #expect(tally.read(now: 1) == 2)
        #expect(tally.figures == TallyFigures(requests: 2, errors: 1, retried: 0, failovers: 0, p95: 0.010))
    }

    @Test func nothingIsCountedBeforeBegin() {
        let log = LogFile()
        let tally = LogTally(path: log.path, rules: rules)
        log.write(accessLine())
        #expect(tally.read(now: 1) == 0)
        #expect(tally.figures == TallyFigures())
    }

    @Test func ignoredPathsAreLeftOutOfTheFiguresButNotOutOfThePoolCounts() {
        let log = LogFile()
        log.write("")
        let tally = LogTally(path: log.path, rules: rules)
        tally.begin()
        log.write(accessLine("/healthz", status: 503, time: "9.000") + accessLine("/healthz?x=1", status: 500) + accessLine("/api"))
        tally.read(now: 1)
        #expect(tally.figures == TallyFigures(requests: 1, errors: 0, p95: 0.010))
        #expect(tally.pool(.blue).requests == 3)
    }

    @Test func previewRoutedRequestsAreLeftOutOfTheFigures() {
        let log = LogFile()
        log.write("")
        let tally = LogTally(path: log.path, rules: rules)
        tally.begin()
        let preview = accessLine("/api", status: 500, pool: "green").replacingOccurrences(of: #""live":"blue""#, with: #""live":"blue","route":"header""#)
        let unrouted = accessLine("/api").replacingOccurrences(of: #""live":"blue""#, with: #""live":"blue","route":"""#)
        log.write(preview + unrouted)
        tally.read(now: 1)
        #expect(tally.figures == TallyFigures(requests: 1, errors: 0, p95: 0.010))
    }

    @Test func retriedAndFailoverRequestsAreCounted() {
        let log = LogFile()
        log.write("")
        let tally = LogTally(path: log.path, rules: rules)
        tally.begin()
        log.write(accessLine(pool: "green", live: "blue") + accessLine(upstream: "502, 200") + accessLine(pool: "", live: "blue"))
        tally.read(now: 1)
        let figures = tally.figures
        #expect((figures.requests, figures.retried, figures.failovers) == (3, 1, 1))
        #expect(figures.retryRate == 100.0 / 3)
    }

    @Test func eachPoolIsLastSeenAtTheReadThatFoundItsLine() {
        let log = LogFile()
        log.write("")
        let tally = LogTally(path: log.path, rules: rules)
        tally.begin()
        log.write(accessLine(pool: "blue") + accessLine(pool: "blue"))
        tally.read(now: 10)
        log.write(accessLine(pool: "green"))
        tally.read(now: 20)
        tally.read(now: 30)
        #expect(tally.pool(named: "blue") == PoolTally(requests: 2, lastSeen: 10))
        #expect(tally.pool(named: "green") == PoolTally(requests: 1, lastSeen: 20))
        #expect(tally.pool(named: "") == PoolTally())
    }

    @Test func aMalformedLineIsSkippedAndCounted() {
        let log = LogFile()
        log.write("")
        let tally = LogTally(path: log.path, rules: rules)
        tally.begin()
        log.write("not json\n" + accessLine() + "\n" + #"{"status":"abc"}"# + "\n" + accessLine())
        tally.read(now: 1)
        #expect(tally.figures.requests == 2)
        #expect(tally.malformed == 2, "the blank line is not malformed")
    }

    @Test func p95IsWithinOnePercentOfTheExactValue() {
        let log = LogFile()
        log.write("")
        let tally = LogTally(path: log.path, rules: rules)
        tally.begin()
        var rng = SplitMix64(seed: 42)
        let times = (0..<400).map { _ in Double(1 + rng.next() % 3000) / 1000 }
        log.write(times.map { accessLine(time: String(format: "%.3f", $0)) }.joined())
        tally.read(now: 1)
        let sorted = times.sorted()
        let reference = sorted[Int((Double(sorted.count) * 0.95).rounded(.up)) - 1]
        let p95 = tally.figures.p95 ?? -1
        #expect(abs(p95 - reference) <= reference * 0.01, "\(p95) vs \(reference)")
    }

    @Test func aRenameRotationMidwayLosesAndDoubleCountsNothing() {
        let log = LogFile()
        log.write(accessLine(status: 500))
        let tally = LogTally(path: log.path, rules: rules)
        tally.begin()
        for _ in 0..<3 { log.write(accessLine()) }
        tally.read(now: 1)
        // Like logrotate + nginx -s reopen: lines before the rename, late lines into the old file, then the new file.
        log.write(accessLine(status: 502))
        rename(log.path, log.path + ".1")
        log.write(accessLine() + accessLine(status: 503))
        log.reopen()
        for _ in 0..<4 { log.write(accessLine(pool: "green")) }
        tally.read(now: 2)
        tally.read(now: 3)
        let figures = tally.figures
        #expect((figures.requests, figures.errors) == (10, 2))
        #expect(tally.pool(.blue).requests == 6)
        #expect(tally.pool(.green) == PoolTally(requests: 4, lastSeen: 2))
    }
}

/// The per-pool figures a canary step compares: one log, one interval, split by pool.
@Suite(.serialized) struct PoolFiguresTests {
    let rules = LogRules(ignorePaths: ["/healthz"], count4xx: false)
    static let addresses = ["blue": "10.0.0.10:3000", "green": "10.0.0.11:3000"]

    func line(status: Int = 200, pool: String, tried: String, upstream: String = "200", time: String = "0.010", uri: String = "/") -> String {
        #"{"msec":1795706212.295,"uri":"\#(uri)","status":\#(status),"request_time":\#(time),"upstream_addr":"\#(tried)","upstream_status":"\#(upstream)","pool":"\#(pool)","live":"\#(pool)"}"# + "\n"
    }

    func tally(_ lines: String, addresses: [String: String] = addresses) -> LogTally {
        let log = LogFile()
        log.write("")
        let tally = LogTally(path: log.path, rules: rules, addresses: addresses)
        tally.begin()
        log.write(lines)
        tally.read(now: 1)
        return tally
    }

    @Test func eachPoolCountsWhatItAnsweredAndItsOwnErrorsAndTimes() {
        let tally = tally(line(pool: "blue", tried: "10.0.0.10:3000") + line(status: 503, pool: "green", tried: "10.0.0.11:3000", upstream: "503", time: "0.300")
                          + line(pool: "green", tried: "10.0.0.11:3000", time: "0.100"))
        #expect(tally.figures(of: .blue) == PoolFigures(requests: 1, errors: 0, sent: 1, retriedAway: 0, p95: 0.010))
        let green = tally.figures(of: .green)
        #expect((green.requests, green.errors, green.sent, green.retriedAway) == (2, 1, 2, 0))
        #expect(green.errorRate == 50 && abs((green.p95 ?? 0) - 0.300) < 0.003)
    }

    @Test func aRequestTheCanaryFailedAndNginxRetriedOnTheBaselineCountsAgainstTheCanary() {
        let tally = tally(line(pool: "blue", tried: "10.0.0.11:3000, 10.0.0.10:3000", upstream: "502, 200")
                          + line(pool: "green", tried: "10.0.0.11:3000"))
        #expect(tally.figures(of: .green) == PoolFigures(requests: 1, errors: 0, sent: 2, retriedAway: 1, p95: 0.010))
        #expect(tally.figures(of: .blue) == PoolFigures(requests: 1, errors: 0, sent: 0, retriedAway: 0, p95: 0.010),
                "blue answered it, but nginx did not send it there first")
        #expect(tally.figures(of: .green).retryRate == 50)
    }

    @Test func withoutAddressesTheOtherPoolIsTakenAsTriedFirstForARetriedRequest() {
        let tally = tally(line(pool: "blue", tried: "x:1, y:2", upstream: "502, 200"), addresses: [:])
        #expect(tally.figures(of: .green).retriedAway == 1 && tally.figures(of: .blue).sent == 0)
    }

    @Test func ignoredPathsAreLeftOutOfThePoolFigures() {
        let tally = tally(line(status: 503, pool: "green", tried: "10.0.0.11:3000", upstream: "503", uri: "/healthz"))
        #expect(tally.figures(of: .green) == PoolFigures())
        #expect(tally.pool(.green).requests == 1)
    }

    @Test func anAddressOfNoPoolIsNotCountedForEither() {
        let tally = tally(line(pool: "", tried: "10.9.9.9:3000"))
        #expect(tally.figures(of: .blue).sent == 0 && tally.figures(of: .green).sent == 0 && tally.figures(of: .other).sent == 1)
    }
}
