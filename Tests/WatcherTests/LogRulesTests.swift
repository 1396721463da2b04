import Foundation
import Testing
import Watcher

@Suite struct LogRulesTests {
    let rules = LogRules(ignorePaths: ["/healthz", "/internal/"], count4xx: false)

    @Test(arguments: [
        ("/healthz", true), ("/healthz?probe=1", true), ("/healthz?", true),
        ("/internal/", true), ("/internal/metrics", true), ("/internal/a?b=c", true),
        ("/healthzz", false), ("/health", false), ("/healthz/x", false), ("/internal", false),
        ("/api/healthz", false), ("", false), ("/", false),
    ])
    func ignoredPathsMatchExactlyWithAQueryOrUnderATrailingSlash(uri: String, ignored: Bool) {
        #expect(rules.isIgnored(uri) == ignored)
    }

    @Test(arguments: ["/healthz", "/healthz?probe=1", "/internal/x", "/healthzz", "/health", "/other"])
    func theByteFormAgreesWithTheStringForm(uri: String) {
        let line = Array(#"{"uri":"\#(uri)","status":200}"#.utf8)
        let agrees = line.withUnsafeBytes { raw -> Bool in
            guard let record = LineParser.parse(raw) else { return false }
            return rules.isIgnored(raw, uri: record.uri) == rules.isIgnored(uri)
        }
        #expect(agrees)
    }

    @Test func noIgnorePathsIgnoreNothingAndAnEmptyOneIsDropped() {
        #expect(!LogRules(ignorePaths: [], count4xx: false).isIgnored("/healthz"))
        let empty = LogRules(ignorePaths: [""], count4xx: false)
        #expect(empty.ignorePaths.isEmpty)
        #expect(!empty.isIgnored("?x"))
    }

    @Test(arguments: [(399, false), (400, false), (404, false), (499, false), (500, true), (502, true), (599, true)])
    func only5xxAreErrorsByDefault(status: Int, error: Bool) {
        #expect(LogRules(ignorePaths: [], count4xx: false).isError(status: status) == error)
    }

    @Test(arguments: [(200, false), (399, false), (400, true), (499, true), (500, true), (599, true)])
    func count4xxMakes4xxErrorsToo(status: Int, error: Bool) {
        #expect(LogRules(ignorePaths: [], count4xx: true).isError(status: status) == error)
    }

    @Test func theSettingsCarryTheRules() {
        let settings = WatchSettings(project: "shop", count4xx: true, ignorePaths: ["/healthz"])
        #expect(LogRules(settings: settings) == LogRules(ignorePaths: ["/healthz"], count4xx: true))
    }

    @Test(arguments: [(1, false), (2, true), (3, true), (0, false)])
    func aRequestIsRetriedWhenItHadMoreThanOneUpstreamAttempt(attempts: Int, retried: Bool) {
        var record = LogRecord()
        record.upstreamAttempts = attempts
        #expect(rules.isRetried(record) == retried)
    }

    @Test(arguments: [
        (PoolTag.blue, PoolTag.blue, LogRules.Answer.live), (.green, .blue, .failover), (.blue, .green, .failover),
        (.none, .blue, .unknown), (.blue, .none, .unknown), (.none, .none, .unknown), (.other, .blue, .failover),
    ])
    func aFailoverIsAnotherPoolAnsweringForTheLiveOne(pool: PoolTag, live: PoolTag, answer: LogRules.Answer) {
        var record = LogRecord()
        record.pool = pool
        record.live = live
        #expect(rules.answer(record) == answer)
        #expect(rules.isFailover(record) == (answer == .failover))
    }
}
