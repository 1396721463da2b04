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

    /// nginx picks a location by the normalised path: what it sent elsewhere is not ignored.
    @Test(arguments: [
        ("/internal/../api/x", false), ("/internal/%2e%2e/api/x", false), ("/internal/%2E%2E/api/x", false),
        ("/internal/.%2e/api/x", false), ("/internal%2f..%2fapi/x", false), ("/internal/x/../../api", false),
        ("/internal/..", false), ("/internal/.", true), ("/internal/..x", true), ("/internal/...", true),
        ("/internal/x/../y", true), ("/internal/x/..", true), ("/internal/./x", true),
    ])
    func dotSegmentsAreResolvedBeforeMatching(uri: String, ignored: Bool) {
        #expect(rules.isIgnored(uri) == ignored)
    }

    @Test(arguments: [
        ("//internal/x", true), ("/internal//x", true), ("///healthz", true), ("/healthz//", false),
        ("/%69nternal/x", true), ("/internal%2Fx", true), ("/health%7A", true), ("/health%7a?x=1", true),
        ("/healthz%3F", false), ("/healthz%2", false), ("/healthz%zz", false), ("/internal/%00", false),
        ("/internal/%", false), ("/internal/%25", true),
    ])
    func slashesAreMergedAndEscapesDecodedBeforeMatching(uri: String, ignored: Bool) {
        #expect(rules.isIgnored(uri) == ignored)
    }

    /// nginx answers 400 to a path above the root; it is counted as logged, never ignored.
    @Test(arguments: ["/..", "/../internal/x", "/%2e%2e/healthz", "/internal/../../internal/x"])
    func aPathAboveTheRootIsNotIgnored(uri: String) {
        #expect(!rules.isIgnored(uri))
    }

    /// Only the path is normalised: a query keeps its bytes, and only the path decides the slow path.
    @Test(arguments: [
        ("/healthz?next=/../x", true), ("/healthz?q=%2e%2e", true), ("/internal/a?b=//c", true),
        ("/internal/../x?y=/internal/", false),
    ])
    func theQueryIsComparedAsLogged(uri: String, ignored: Bool) {
        #expect(rules.isIgnored(uri) == ignored)
    }

    @Test(arguments: ["/healthz", "/healthz?probe=1", "/internal/x", "/healthzz", "/health", "/other",
                      "/internal/../api", "/internal/%2e%2e/api", "//healthz"])
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
