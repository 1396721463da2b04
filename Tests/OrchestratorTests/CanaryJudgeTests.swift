import Foundation
import Testing
import NginxConfigGen
import Watcher
@testable import Orchestrator

/// Each canary rule on its own, at its limit (passes: every limit is exclusive) and just past it.
@Suite struct CanaryJudgeTests {
    /// min 20 requests, 1 point for errors and retries, p95 at most 1.5 × the baseline's, never below 50 ms.
    let policy = CanaryPolicy(minRequests: 20, maxErrorDiff: 1, maxRetryDiff: 1, p95Ratio: 1.5, p95Floor: 0.050)

    /// A healthy baseline: 1000 requests, 1% errors, nothing retried elsewhere, p95 100 ms.
    static let baseline = PoolFigures(requests: 1000, errors: 10, sent: 1000, retriedAway: 0, p95: 0.100)

    func judge(_ canary: PoolFigures, baseline: PoolFigures = baseline) -> CanaryPolicy.Decision {
        policy.judge(CanaryFigures(canaryPool: .green, canary: canary, baseline: baseline, seconds: 60))
    }

    func fails(_ decision: CanaryPolicy.Decision) -> String? {
        if case .fail(let reason) = decision { return reason }
        return nil
    }

    func passes(_ decision: CanaryPolicy.Decision) -> Bool {
        if case .pass = decision { return true }
        return false
    }

    // MARK: minimum requests

    @Test func belowTheMinimumNothingIsJudgedNotEvenAllErrors() {
        let decision = judge(PoolFigures(requests: 19, errors: 19, sent: 19, retriedAway: 0, p95: 9))
        #expect(decision == .inconclusive("nginx sent green 19 requests, fewer than deploy.canary_min_requests (20)"))
    }

    @Test func atTheMinimumTheRulesApply() {
        #expect(fails(judge(PoolFigures(requests: 20, errors: 20, sent: 20, p95: 0.1))) != nil)
        #expect(passes(judge(PoolFigures(requests: 20, errors: 0, sent: 20, p95: 0.1))))
    }

    @Test func aCanaryThatAnswersNothingButWasSentEnoughIsJudgedOnItsRetries() {
        // Every request nginx sent it failed and went to the baseline: 0 answered, 0% errors, 100% retried.
        let reason = fails(judge(PoolFigures(requests: 0, errors: 0, sent: 25, retriedAway: 25)))
        #expect(reason?.hasPrefix("green failed 25 of the 25 requests it was sent and nginx retried them on blue (100.0%") == true, "\(reason ?? "passed")")
    }

    // MARK: error rate against the baseline (1% here)

    @Test func anErrorRateExactlyTheLimitAboveTheBaselinePasses() {
        // 2 of 100 = 2.0% against 1.0%: 1.0 point, the limit.
        #expect(passes(judge(PoolFigures(requests: 100, errors: 2, sent: 100, p95: 0.1))))
    }

    @Test func anErrorRateJustPastTheLimitFails() {
        // 201 of 10000 = 2.01%: 1.01 points.
        let reason = fails(judge(PoolFigures(requests: 10_000, errors: 201, sent: 10_000, p95: 0.1)))
        #expect(reason == "green's error rate 2.0% (201 of 10000) is 1.0 points above blue's 1.0% (10 of 1000); deploy.canary_max_error_diff is 1.0 points")
    }

    @Test func errorsTheBaselineHasTooDoNotFailTheCanary() {
        let failing = PoolFigures(requests: 1000, errors: 300, sent: 1000, p95: 0.1)
        #expect(passes(judge(PoolFigures(requests: 100, errors: 30, sent: 100, p95: 0.1), baseline: failing)))
    }

    // MARK: retried on the baseline

    @Test func retriesExactlyTheLimitAboveTheBaselinePass() {
        // 1 of 100 sent was retried elsewhere: 1.0 point over the baseline's 0.
        #expect(passes(judge(PoolFigures(requests: 99, errors: 0, sent: 100, retriedAway: 1, p95: 0.1))))
    }

    @Test func retriesJustPastTheLimitFail() {
        let reason = fails(judge(PoolFigures(requests: 9_899, errors: 0, sent: 10_000, retriedAway: 101, p95: 0.1)))
        #expect(reason?.contains("green failed 101 of the 10000 requests it was sent and nginx retried them on blue (1.0%, 1.0 points above blue's 0.0%)") == true,
                "\(reason ?? "passed")")
    }

    @Test func theBaselinesOwnRetriesAreSubtracted() {
        let retrying = PoolFigures(requests: 1000, errors: 0, sent: 1000, retriedAway: 50, p95: 0.1)
        #expect(passes(judge(PoolFigures(requests: 95, errors: 0, sent: 100, retriedAway: 5, p95: 0.1), baseline: retrying)))
    }

    // MARK: p95 against 1.5 × the baseline's, floor 50 ms

    @Test func aP95ExactlyTheRatioPasses() {
        #expect(passes(judge(PoolFigures(requests: 100, errors: 1, sent: 100, p95: 0.150))))
    }

    @Test func aP95JustPastTheRatioFails() {
        let reason = fails(judge(PoolFigures(requests: 100, errors: 1, sent: 100, p95: 0.151)))
        #expect(reason == "green's p95 request time 151 ms is above 150 ms (1.5 × blue's 100 ms)")
    }

    @Test func belowTheFloorATripledP95Passes() {
        let fast = PoolFigures(requests: 1000, errors: 10, sent: 1000, p95: 0.010)
        #expect(passes(judge(PoolFigures(requests: 100, errors: 1, sent: 100, p95: 0.050), baseline: fast)), "50 ms is the floor: not above it")
    }

    @Test func justPastTheFloorTheP95Fails() {
        let fast = PoolFigures(requests: 1000, errors: 10, sent: 1000, p95: 0.010)
        let reason = fails(judge(PoolFigures(requests: 100, errors: 1, sent: 100, p95: 0.051), baseline: fast))
        #expect(reason == "green's p95 request time 51 ms is above 50 ms (1.5 × blue's 10 ms, raised to deploy.canary_p95_floor)")
    }

    @Test func withoutBaselineSamplesLatencyIsNotJudged() {
        let empty = PoolFigures(requests: 0, errors: 0, sent: 0, p95: nil)
        #expect(passes(judge(PoolFigures(requests: 100, errors: 0, sent: 100, p95: 5), baseline: empty)))
    }

    @Test func aPassSaysWhatBothPoolsDid() {
        guard case .pass(let summary) = judge(PoolFigures(requests: 52, errors: 1, sent: 52, p95: 0.012)) else { Issue.record("failed"); return }
        #expect(summary == "green 1 error in 52 (1.9%), p95 12 ms; blue 10 errors in 1000 (1.0%), p95 100 ms over 60 s")
    }

    @Test func aStepRecordCarriesTheWeightAndBothPoolsFigures() {
        let figures = CanaryFigures(canaryPool: .green, canary: PoolFigures(requests: 52, errors: 1, sent: 53, retriedAway: 1, p95: 0.012),
                                    baseline: Self.baseline, seconds: 60.04)
        let step = CanaryStepVerdict(routing: CanaryRouting(pool: .green, percent: 5), result: .passed, reason: "ok", figures: figures).record
        #expect(step.weight == 5 && step.figures["weight"] == 5 && step.figures["seconds"] == 60)
        #expect(step.figures["canary_requests"] == 52 && step.figures["canary_error_rate"] == 1.92 && step.figures["canary_p95_ms"] == 12)
        #expect(step.figures["canary_retried"] == 1 && step.figures["baseline_requests"] == 1000 && step.figures["baseline_p95_ms"] == 100)
        #expect(step.summary == "5% passed: canary 1.9% of 52, p95 12 ms; baseline 1.0% of 1000, p95 100 ms")
    }
}

/// The real reader: a deploy's log opener knows the pools' addresses, so the pool tried first comes
/// from `upstream_addr`, not from a guess.
@Suite struct CanaryLogReaderTests {
    @Test func theOpenerTellsWhichPoolARetriedRequestWasSentToFirst() throws {
        let spec = try Fixture.spec()
        let path = Fixture.tempDir() + "/access.log"
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        let reader = TailedAccessLog.opener(spec)(path)
        // Green failed the first; the second was first sent to an address of no pool (a guess would say green).
        let lines = [#"{"status":200,"request_time":0.010,"upstream_addr":"172.29.7.11:3000, 172.29.7.10:3000","upstream_status":"502, 200","pool":"blue","live":"blue","uri":"/"}"#,
                     #"{"status":200,"request_time":0.010,"upstream_addr":"172.29.7.99:3000, 172.29.7.10:3000","upstream_status":"502, 200","pool":"blue","live":"blue","uri":"/"}"#]
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        try handle.close()
        _ = reader.read()
        #expect(reader.figures(of: .green) == PoolFigures(requests: 0, errors: 0, sent: 1, retriedAway: 1, p95: nil))
        #expect(reader.figures(of: .blue).requests == 2 && reader.figures(of: .blue).sent == 0)
    }
}
