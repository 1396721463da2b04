import Foundation
import Testing
@testable import ACME

/// badNonce, Retry-After, rate limits, busy answers, polling, the deadline and interruption.
@Suite struct RetryTests {
    // MARK: - badNonce (RFC 8555 §6.5)

    @Test(arguments: [1, 5])
    func badNonceAnswersAreRetriedWithTheNonceTheyCarried(_ refusals: Int) throws {
        var script = FakeCA.Script()
        script.faults = [badNonce(times: refusals)]
        let harness = Harness(script)
        _ = try harness.obtain(oneName).get()
        #expect(harness.ca.requests(to: .newAccount).count == refusals + 1)
        #expect(harness.ca.requests(to: .newNonce).count == 1)
        #expect(harness.ca.violations == [])
    }

    @Test func sixBadNoncesInARowStopTheIssuanceNamingBadNonce() {
        var script = FakeCA.Script()
        script.faults = [badNonce(on: .newOrder, times: 6)]
        let harness = Harness(script)
        let error = harness.obtain(oneName).failure
        #expect(error?.kind == "problem")
        #expect(error.map { "\($0)" } == "acme: the CA refused to create an order for example.com (HTTP 400): "
            + "JWS has an invalid anti-replay nonce (badNonce)")
        #expect(harness.ca.requests(to: .newOrder).count == 6)
        #expect(harness.ca.violations == [])
    }

    // MARK: - Rate limits and busy answers

    @Test func aRateLimitBeyondTheDeadlineStopsAtOnceWithItsRetryAfter() {
        var script = FakeCA.Script()
        script.faults = [rateLimited(retryAfter: "3600")]
        let harness = Harness(script)
        let error = harness.obtain(oneName).failure
        #expect(error?.kind == "rateLimited")
        #expect(error?.isRateLimit == true)
        #expect(error?.retryAfter == 3600)
        #expect(harness.ca.requests(to: .newOrder).count == 1)
        #expect(harness.clock.sleeps == [])
        #expect(error.map { "\($0)" } == "acme: the CA refused to create an order for example.com (rate limit): too many certificates already issued "
            + "(rateLimited); it asks to retry in 60 min, longer than one run waits; bgctl retries after that (see `bgctl certs status`); "
            + "Let's Encrypt's limits are in the README")
    }

    @Test func aRateLimitWithAnHTTPDateBeyondTheDeadlineCarriesTheSecondsToIt() throws {
        var script = FakeCA.Script()
        script.faults = [rateLimited(retryAfter: httpDate(3600))]
        let harness = Harness(script)
        let after = try #require(harness.obtain(oneName).failure?.retryAfter)
        #expect(after > 3597 && after <= 3600)
    }

    @Test func aShortRateLimitWithinTheDeadlineIsWaitedOutAndRetried() throws {
        var script = FakeCA.Script()
        script.faults = [rateLimited(retryAfter: "2")]
        let harness = Harness(script)
        _ = try harness.obtain(oneName).get()
        #expect(harness.ca.requests(to: .newOrder).count == 2)
        #expect(abs(harness.clock.totalSlept - 2) < 1e-9)
        #expect(harness.clock.sleeps.allSatisfy { $0 <= 0.2 + 1e-12 })
        #expect(harness.ca.violations == [])
    }

    @Test func aRateLimitIsWaitedOutAtMostThreeTimesPerRequest() {
        var script = FakeCA.Script()
        script.faults = [rateLimited(retryAfter: "1", times: 4)]
        let harness = Harness(script)
        let error = harness.obtain(oneName).failure
        #expect(error?.kind == "rateLimited")
        #expect(harness.ca.requests(to: .newOrder).count == 4)
        #expect(abs(harness.clock.totalSlept - 3) < 1e-9)
    }

    @Test func aBusyCAWithRetryAfterIsWaitedOutAndRetried() throws {
        var script = FakeCA.Script()
        script.faults = [busy(on: .finalize, retryAfter: "1")]
        let harness = Harness(script)
        _ = try harness.obtain(oneName).get()
        #expect(harness.ca.requests(to: .finalize).count == 2)
        #expect(abs(harness.clock.totalSlept - 1) < 1e-9)
    }

    @Test func aBusyCAWithoutRetryAfterIsReportedNotRetried() {
        var script = FakeCA.Script()
        script.faults = [busy(on: .newOrder, retryAfter: nil)]
        let harness = Harness(script)
        let error = harness.obtain(oneName).failure
        #expect(error.map { "\($0)" } == "acme: the CA refused to create an order for example.com (HTTP 503): service busy (about:blank)")
        #expect(harness.ca.requests(to: .newOrder).count == 1)
        #expect(harness.clock.sleeps == [])
    }

    @Test func aBusyDirectoryWithRetryAfterIsWaitedOutAndFetchedAgain() throws {
        var script = FakeCA.Script()
        script.faults = [busy(on: .directory, retryAfter: "2")]
        let harness = Harness(script)
        _ = try harness.obtain(oneName).get()
        #expect(harness.ca.requests(to: .directory).count == 2)
        #expect(abs(harness.clock.totalSlept - 2) < 1e-9)
    }

    // MARK: - Polling

    @Test func pollingWaitsTheRetryAfterTheCAAsksFor() throws {
        var script = FakeCA.Script()
        script.pendingPolls = 2
        script.pollRetryAfter = "3"
        let harness = Harness(script)
        _ = try harness.obtain(oneName).get()
        #expect(harness.ca.requests(to: .authorization).count == 4)
        #expect(abs(harness.clock.totalSlept - 6) < 1e-9)
        let waits = harness.recorder.events.filter { if case .waiting = $0 { true } else { false } }
        #expect(waits == [.waiting(what: "example.com's validation", seconds: 3), .waiting(what: "example.com's validation", seconds: 3)])
    }

    @Test func pollingWithoutRetryAfterBacksOffFromAQuarterSecondDoubling() throws {
        var script = FakeCA.Script()
        script.pendingPolls = 5
        let harness = Harness(script)
        _ = try harness.obtain(oneName).get()
        // 0.25 + 0.5 + 1 + 2 + 2: doubling, then held at 2 s.
        #expect(abs(harness.clock.totalSlept - 5.75) < 1e-9)
        #expect(harness.recorder.events.filter { if case .waiting = $0 { true } else { false } }.count == 2)
    }

    @Test func aRetryAfterOfAnHourIsCappedToAMinuteBetweenPolls() throws {
        var script = FakeCA.Script()
        script.pendingPolls = 1
        script.pollRetryAfter = "3600"
        let harness = Harness(script, deadline: 600)
        _ = try harness.obtain(oneName).get()
        #expect(abs(harness.clock.totalSlept - 60) < 1e-9)
    }

    @Test func anAuthorizationThatStaysPendingTimesOutAtTheDeadline() {
        var script = FakeCA.Script()
        script.pendingForever = true
        let harness = Harness(script, deadline: 20)
        let started = harness.clock.now
        let error = harness.obtain(oneName).failure
        #expect(error?.kind == "timeout")
        #expect(error.map { "\($0)" }?.hasPrefix("acme: gave up after 20 s waiting for example.com's validation:") == true)
        #expect(harness.clock.now - started < 20)
        #expect(harness.clock.now - started > 17)
        #expect(harness.ca.unpublished == harness.ca.published)
    }

    @Test func aPollThatHonoursRetryAfterStillStopsAtTheDeadline() {
        var script = FakeCA.Script()
        script.pendingForever = true
        script.pollRetryAfter = "7"
        let harness = Harness(script, deadline: 30)
        let error = harness.obtain(oneName).failure
        #expect(error?.kind == "timeout")
        // Waits of 7 s while they fit: four of them, then the fifth would pass the deadline.
        #expect(abs(harness.clock.totalSlept - 28) < 1e-9)
        #expect(harness.ca.requests(to: .authorization).count == 6)
    }

    // MARK: - Interruption

    @Test func anInterruptionMidPollStopsWithinOneSleepStepAndSendsNothingMore() {
        var script = FakeCA.Script()
        script.pendingForever = true
        script.pollRetryAfter = "10"
        let harness = Harness(script)
        let clock = harness.clock
        let stopAt = clock.now + 3.1
        let error = harness.obtain(oneName, interrupted: { clock.now >= stopAt }).failure
        #expect(error?.kind == "interrupted")
        #expect("\(error!)" == "acme: interrupted by a signal; nothing was issued")
        #expect(clock.now >= stopAt)
        #expect(clock.now - stopAt <= 0.2 + 1e-9)
        #expect(harness.ca.requests.allSatisfy { ($0.at ?? .infinity) < stopAt })
        #expect(harness.ca.unpublished == harness.ca.published)
        #expect(harness.ca.published.count == 1)
    }

    @Test func anInterruptionBeforeTheFirstRequestSendsNothing() {
        let harness = Harness()
        let error = harness.obtain(oneName, interrupted: { true }).failure
        #expect(error?.kind == "interrupted")
        #expect(harness.ca.requests.isEmpty)
    }
}
