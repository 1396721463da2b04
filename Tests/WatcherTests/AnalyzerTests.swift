import Testing
@testable import Watcher

/// Builds records with explicit times: the analysis never reads a clock.
func record(_ status: Int, at time: Double, pool: PoolTag = .blue, live: PoolTag = .blue, attempts: Int = 1) -> LogRecord {
    var r = LogRecord()
    r.status = status
    r.time = time
    r.pool = pool
    r.live = live
    r.upstreamAttempts = attempts
    return r
}

func sample() -> SampleRequest {
    SampleRequest(time: 0, method: "GET", uri: "/", status: 500, upstreamStatus: "500", pool: "blue")
}

extension Analyzer {
    mutating func feed(_ records: [LogRecord]) -> [Detection] {
        records.flatMap { observe($0, at: $0.time, sample: sample) }
    }
}

@Suite struct AnalyzerTests {
    let settings = WatchSettings(project: "shop", window: 200, windowSeconds: 60, minRequests: 20, errorRateThreshold: 2)

    @Test func noRateAlertBelowMinRequests() {
        var analyzer = Analyzer(settings: settings)
        let detections = analyzer.feed((0..<19).map { record(500, at: Double($0)) })
        #expect(detections.isEmpty)
        #expect(analyzer.window.count == 19 && analyzer.window.errors == 19)
    }

    @Test func aQuietSiteAlertsAlthoughTheCountWindowNeverFills() {
        // 150 errors on a quiet site: the 200-request window never fills; the time window decides.
        var analyzer = Analyzer(settings: settings)
        let detections = analyzer.feed((0..<150).map { record(500, at: Double($0) * 0.2) })
        #expect(detections.map(\.kind) == [.errorRate])
        #expect(abs((detections.first?.at ?? 0) - 3.8) < 1e-9, "fires at the 20th request (min_requests)")
        #expect(detections.first?.figures.requests == 20)
    }

    @Test func firesAtTheThresholdAndResolvesBelowIt() {
        var analyzer = Analyzer(settings: settings)
        var events = analyzer.feed((0..<98).map { record(200, at: Double($0) * 0.1) })
        #expect(events.isEmpty)
        events = analyzer.feed([record(500, at: 10.0)])
        #expect(events.isEmpty, "1 of 99 is under 2%")
        events = analyzer.feed([record(500, at: 10.1)])
        #expect(events.map(\.firing) == [true], "2 of 100 is 2%")
        #expect(events.first?.figures.errors == 2)
        // The errors slide out of the 200-request window.
        events = analyzer.feed((0..<200).map { record(200, at: 10.2 + Double($0) * 0.01) })
        #expect(events.map { "\($0.kind.rawValue) \($0.firing)" } == ["error_rate false"])
    }

    @Test func fourHundredsAreNotErrorsUnlessCount4xx() {
        var analyzer = Analyzer(settings: settings)
        #expect(analyzer.feed((0..<50).map { record(404, at: Double($0)) }).isEmpty)
        var counting = settings
        counting.count4xx = true
        var strict = Analyzer(settings: counting)
        #expect(strict.feed((0..<50).map { record(404, at: Double($0)) }).map(\.kind) == [.errorRate])
    }

    @Test func theTimeWindowForgetsOldErrorsAndTickResolves() {
        var analyzer = Analyzer(settings: settings)
        #expect(analyzer.feed((0..<30).map { record(500, at: Double($0)) }).count == 1)
        let events = analyzer.tick(now: 200)
        #expect(events.map { "\($0.kind.rawValue) \($0.firing)" } == ["error_rate false"])
        #expect(analyzer.window.count == 0)
    }

    @Test func retriedUpstreamRequestsAreCountedSeparately() {
        var analyzer = Analyzer(settings: settings)
        let records = (0..<40).map { i in record(200, at: Double(i), pool: .blue, attempts: i % 10 == 0 ? 2 : 1) }
        let events = analyzer.feed(records)
        #expect(events.map(\.kind) == [.upstreamRetries])
        #expect(analyzer.window.errors == 0 && analyzer.window.retried == 4)
    }

    @Test func anAlternatingFailoverIsOneAlertAndOneResolution() {
        var analyzer = Analyzer(settings: settings)
        var events: [Detection] = []
        // 300 requests whose pool alternates between the backup and the live pool.
        for i in 0..<300 {
            events += analyzer.feed([record(200, at: 100 + Double(i) * 0.1, pool: i % 2 == 0 ? .green : .blue, live: .blue)])
        }
        #expect(events.filter { $0.kind == .failover }.map(\.firing) == [true])
        #expect(events.first { $0.kind == .failover }?.pool == "green")
        // The live pool serves again, steadily.
        for i in 0..<30 {
            events += analyzer.feed([record(200, at: 200 + Double(i) * 0.1, pool: .blue, live: .blue)])
        }
        #expect(events.filter { $0.kind == .failover }.map(\.firing) == [true, false])
    }

    @Test func oneStrayRequestOnTheBackupIsNotAFailover() {
        var analyzer = Analyzer(settings: settings)
        let records = [record(200, at: 1, pool: .green)] + (0..<50).map { record(200, at: 3 + Double($0)) }
        #expect(analyzer.feed(records).isEmpty)
    }

    /// Two requests answered by the backup within failover_seconds: nginx has marked the live pool down
    /// (max_fails) and sends it nothing for fail_timeout — at 5 req/s that is said within ~400 ms.
    @Test func twoRequestsOnTheBackupAreAFailover() {
        var analyzer = Analyzer(settings: settings)
        let records = [record(200, at: 1, pool: .green), record(200, at: 1.2, pool: .green)]
        #expect(analyzer.feed(records).map(\.kind) == [.failover])
    }
}

@Suite struct AlertBookTests {
    func detection(_ kind: AlertKind, _ firing: Bool, at: Double) -> Detection {
        Detection(kind: kind, firing: firing, at: at,
                  figures: WindowFigures(requests: 100, errors: 10, retried: 0, errorRate: 10, retryRate: 0, threshold: 2,
                                         windowRequests: 200, windowSeconds: 60),
                  pool: "blue", live: "blue", samples: [])
    }

    @Test func firingThenResolvedThenRepeatAfterCooldown() {
        var book = AlertBook(cooldown: 300)
        #expect(book.process(detection(.errorRate, true, at: 0), maintenance: false).map(\.state) == [.firing])
        #expect(book.tick(now: 100, current: { _ in detection(.errorRate, true, at: 100) }, maintenance: false).isEmpty)
        #expect(book.tick(now: 300, current: { _ in detection(.errorRate, true, at: 300) }, maintenance: false).map(\.state) == [.repeating])
        #expect(book.process(detection(.errorRate, false, at: 310), maintenance: false).map(\.state) == [.resolved])
    }

    @Test func aFlapWithinTheCooldownIsNotAnnouncedAgain() {
        var book = AlertBook(cooldown: 300)
        _ = book.process(detection(.errorRate, true, at: 0), maintenance: false)
        _ = book.process(detection(.errorRate, false, at: 10), maintenance: false)
        #expect(book.process(detection(.errorRate, true, at: 20), maintenance: false).isEmpty)
        #expect(book.process(detection(.errorRate, false, at: 30), maintenance: false).isEmpty, "its end is not announced either")
        #expect(book.process(detection(.errorRate, true, at: 400), maintenance: false).map(\.state) == [.firing])
    }

    @Test func kindsAreIndependent() {
        var book = AlertBook(cooldown: 300)
        #expect(book.process(detection(.errorRate, true, at: 0), maintenance: false).count == 1)
        #expect(book.process(detection(.failover, true, at: 1), maintenance: false).count == 1)
    }

    @Test func maintenanceMarksNotificationsSuppressed() {
        var book = AlertBook(cooldown: 300)
        let out = book.process(detection(.failover, true, at: 0), maintenance: true)
        #expect(out.map(\.suppressed) == [true])
    }
}

@Suite struct DeliveryPolicyTests {
    @Test(arguments: [
        (200, "ok", nil as String?, nil as String?, 1, DeliveryDecision.delivered),
        (429, "rate_limited", "7", nil, 1, .retry(after: 7, reason: "HTTP 429 rate limited")),
        (500, "rollup_error", nil, nil, 1, .retry(after: 0.5, reason: "HTTP 500 rollup_error")),
        (503, "", nil, nil, 2, .retry(after: 1, reason: "HTTP 503")),
        (404, "no_service", nil, nil, 1, .permanent(reason: "HTTP 404 no_service: the webhook was revoked or disabled; create a new one")),
        (400, "invalid_payload", nil, nil, 1, .permanent(reason: "HTTP 400 invalid_payload: Slack rejected the message body")),
        (410, "channel_is_archived", nil, nil, 1, .permanent(reason: "HTTP 410 channel_is_archived: the channel was archived")),
        (403, "action_prohibited", nil, nil, 1, .permanent(reason: "HTTP 403 action_prohibited: the workspace forbids this (action_prohibited)")),
        (500, "rollup_error", nil, nil, 4, .permanent(reason: "HTTP 500 rollup_error (gave up after 4 attempts)")),
    ])
    func decisions(status: Int, body: String, retryAfter: String?, error: String?, attempt: Int, expected: DeliveryDecision) {
        #expect(DeliveryDecision.decide(status: status, body: body, retryAfter: retryAfter, transportError: error, attempt: attempt) == expected)
    }

    @Test func transportErrorsAreRetriedWithBackoff() {
        #expect(DeliveryDecision.decide(status: nil, body: "", retryAfter: nil, transportError: "Timeout was reached", attempt: 3)
                == .retry(after: 2, reason: "Timeout was reached"))
    }
}
