import Testing
import NginxConfigGen
@testable import Orchestrator

@Suite struct DeployJudgeTests {
    func policy(_ inconclusive: InconclusivePolicy = .extend, maxP95: Double? = nil) -> DeployPolicy {
        DeployPolicy(errorRateThreshold: 2, minRequests: 20, maxP95: maxP95, inconclusive: inconclusive)
    }

    @Test func aHealthyReleaseIsPromoted() {
        let f = AnalysisFigures(requests: 500, errors: 5, retried: 0, failovers: 0, p95: 0.08, seconds: 60)
        guard case .promote(let reason) = policy().verdict(f, canExtend: true) else { Issue.record("not promoted"); return }
        #expect(reason.hasPrefix("healthy: 5 errors in 500 requests (1.0%)"))
    }

    @Test(arguments: [
        (AnalysisFigures(requests: 100, errors: 2), "error rate 2.0% ≥ 2.0% (2 of 100)"),
        (AnalysisFigures(requests: 100, retried: 5), "5 of 100 requests failed upstream and were retried (5.0%)"),
        (AnalysisFigures(requests: 100, failovers: 1), "1 requests were answered by the other pool (failover)"),
        (AnalysisFigures(requests: 100, p95: 1.5), "p95 request time 1500 ms > 800 ms"),
    ])
    func aFailingReleaseIsRolledBack(_ f: AnalysisFigures, _ reason: String) {
        #expect(policy(maxP95: 0.8).verdict(f, canExtend: true) == .rollback(reason))
        #expect(policy(maxP95: 0.8).judge(f) == .fail(reason), "fails early, before the time is up")
    }

    @Test func tooFewRequestsAreInconclusiveAndThePolicyDecides() {
        let quiet = AnalysisFigures(requests: 5, errors: 0, seconds: 60)
        #expect(policy().judge(quiet) == .inconclusive)
        guard case .promote = policy(.promote).verdict(quiet, canExtend: true) else { Issue.record("promote policy"); return }
        guard case .rollback = policy(.rollback).verdict(quiet, canExtend: true) else { Issue.record("rollback policy"); return }
        #expect(policy(.extend).verdict(quiet, canExtend: true) == .extend)
        guard case .rollback(let reason) = policy(.extend).verdict(quiet, canExtend: false) else { Issue.record("extend limit"); return }
        #expect(reason.contains("after extending to deploy.extend_limit"))
    }

    @Test func errorsAmongTooFewRequestsFailWhenTheTimeIsUp() {
        let failing = AnalysisFigures(requests: 16, errors: 16, seconds: 6)
        #expect(policy().judge(failing) == .inconclusive, "not early: more requests could still dilute them")
        guard case .rollback(let reason) = policy().verdict(failing, canExtend: true) else { Issue.record("not rolled back"); return }
        #expect(reason.hasPrefix("16 errors in only 16 requests"))
    }

    @Test func theReleaseLabelDefaultsToTheImageTag() {
        #expect(DeployRequest(image: "registry.local:5000/shop/api:1.4.2").releaseLabel == "1.4.2")
        #expect(DeployRequest(image: "registry.local:5000/shop/api").releaseLabel == "latest")
        var request = DeployRequest(image: "shop:2")
        request.release = "2026.11.26"
        #expect(request.releaseLabel == "2026.11.26")
    }
}
