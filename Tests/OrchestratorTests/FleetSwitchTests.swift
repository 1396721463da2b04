import Foundation
import Testing
import NginxConfigGen
@testable import Orchestrator

/// A host's agent a test scripts: each request gets the scripted reply (ok by default), and every
/// request is recorded in order.
final class ScriptedAgent: AgentChannel, @unchecked Sendable {
    let host: String
    private let lock = NSLock()
    private var script: [String: AgentReply]
    private(set) var requests: [String] = []
    private(set) var closed = false
    let live: Pool
    /// How long each flip takes.
    var flipDelay: useconds_t = 0

    init(_ host: String, live: Pool = .blue, _ script: [String: AgentReply] = [:]) {
        self.host = host
        self.live = live
        self.script = script
    }

    func call(_ request: [String: String], timeout: Double) -> AgentReply {
        let op = request["op"] ?? "?"
        lock.withLock { requests.append(op) }
        if op == "flip" && flipDelay > 0 { usleep(flipDelay) }
        if let scripted = script[op] { return scripted }
        switch op {
        case "prepare": return AgentReply(fields: ["ok": "true", "live": live.rawValue, "changes": live.rawValue == request["target"] ? "false" : "true"])
        case "flip": return AgentReply(fields: ["ok": "true", "ms": "3"])
        default: return AgentReply(fields: ["ok": "true"])
        }
    }

    func close() { lock.withLock { closed = true } }
    func abandon() { close() }
}

/// The all-or-nothing switch across hosts: each rule on its own.
@Suite struct FleetSwitchTests {
    static func run(_ agents: [ScriptedAgent], to target: Pool = .green) -> FleetSwitchOutcome {
        FleetSwitch.run(agents, target: target, force: false, flipTimeout: 5, report: { _ in })
    }

    static func refused(_ why: String) -> AgentReply { AgentReply(fields: ["ok": "false", "error": why], failure: .refused(why)) }

    @Test func everyHostIsPreparedThenFlippedThenRecorded() {
        let agents = ["web1", "web2", "web3"].map { ScriptedAgent($0) }
        let outcome = Self.run(agents)
        #expect(outcome.result == .switched)
        #expect(agents.allSatisfy { $0.requests == ["prepare", "flip", "record"] })
        #expect(outcome.hosts.map(\.state) == [.switched, .switched, .switched])
        #expect(outcome.hosts.allSatisfy { $0.serving == .green && $0.flipMs == 3 })
    }

    @Test func aHostThatCannotSwitchBeforeTheFlipLeavesEveryHostUntouched() {
        let agents = [ScriptedAgent("web1"), ScriptedAgent("web2", ["prepare": Self.refused("green is not healthy")]), ScriptedAgent("web3")]
        let outcome = Self.run(agents)
        #expect(outcome.result == .aborted)
        #expect(outcome.reason == "web2 cannot switch (green is not healthy); no host was flipped")
        #expect(agents.allSatisfy { $0.requests == ["prepare"] }, "no host got a flip")
        #expect(outcome.hosts.map(\.state) == [.untouched, .untouched, .untouched])
        #expect(outcome.hosts[1].detail == "prepare: green is not healthy")
    }

    @Test func aFlipThatFailsOnOneHostFlipsBackEveryHostThatFlipped() {
        let agents = [ScriptedAgent("web1"), ScriptedAgent("web2", ["flip": Self.refused("green did not answer through the proxy")]), ScriptedAgent("web3")]
        let outcome = Self.run(agents)
        #expect(outcome.result == .flippedBack)
        #expect(agents[0].requests == ["prepare", "flip", "unflip"] && agents[2].requests == ["prepare", "flip", "unflip"])
        #expect(agents[1].requests == ["prepare", "flip"], "the host whose flip failed put itself back")
        #expect(outcome.hosts.map(\.state) == [.flippedBack, .failed, .flippedBack])
        #expect(outcome.hosts.allSatisfy { $0.serving == .blue }, "every host serves what it served before")
    }

    @Test func aHostThatDoesNotAnswerItsFlipIsUnknownAndTheOthersGoBack() {
        let agents = [ScriptedAgent("web1"), ScriptedAgent("web2", ["flip": AgentReply(failure: .timedOut)])]
        let outcome = Self.run(agents)
        #expect(outcome.result == .mixed, "one host's pool is not known")
        #expect(outcome.hosts[0].state == .flippedBack && outcome.hosts[0].serving == .blue)
        #expect(outcome.hosts[1].state == .unknown && outcome.hosts[1].serving == nil)
    }

    @Test func aFlipBackThatFailsIsMixed() {
        let agents = [ScriptedAgent("web1", ["unflip": Self.refused("the proxy is gone")]), ScriptedAgent("web2", ["flip": Self.refused("no")])]
        let outcome = Self.run(agents)
        #expect(outcome.result == .mixed)
        #expect(outcome.hosts[0].state == .unknown && outcome.hosts[0].detail == "flip back: the proxy is gone")
    }

    @Test func hostsAlreadyOnTheTargetAreNotFlipped() {
        let agents = [ScriptedAgent("web1", live: .green), ScriptedAgent("web2")]
        let outcome = Self.run(agents)
        #expect(outcome.result == .switched)
        #expect(agents[0].requests == ["prepare"] && agents[1].requests == ["prepare", "flip", "record"])
        #expect(outcome.hosts.map(\.state) == [.unchanged, .switched])
        let all = Self.run([ScriptedAgent("web1", live: .green), ScriptedAgent("web2", live: .green)])
        #expect(all.result == .unchanged)
    }

    @Test func aRecordThatFailsIsMixedButServingTheTarget() {
        let agents = [ScriptedAgent("web1"), ScriptedAgent("web2", ["record": Self.refused("disk full")])]
        let outcome = Self.run(agents)
        #expect(outcome.result == .mixed)
        #expect(outcome.hosts.map(\.serving) == [.green, .green])
        #expect(outcome.hosts[1].detail == "record: disk full")
    }

    @Test func theFlipsRunAtOnce() {
        // Each flip takes 0.3 s: three in a row would take 0.9 s.
        let agents = ["a", "b", "c"].map { ScriptedAgent($0) }
        agents.forEach { $0.flipDelay = 300_000 }
        let started = Date()
        let outcome = Self.run(agents)
        #expect(outcome.result == .switched)
        #expect(Date().timeIntervalSince(started) < 0.8)
        #expect(outcome.mixedWindow < 0.2)
    }
}

/// What the fleet's status makes of its hosts' own reports.
@Suite struct FleetStatusTests {
    static func row(_ host: String, _ live: Pool?, _ overall: String) -> HostStatus {
        HostStatus(host: host, live: live, overall: overall, problems: [], report: nil)
    }

    @Test func hostsServingOnePoolHealthilyAreAHealthyFleet() {
        let status = Fleet.judge([Self.row("a", .green, "healthy"), Self.row("b", .green, "healthy")])
        #expect(status.overall == "healthy" && status.live == .green && status.problems.isEmpty)
    }

    @Test func aMixedFleetIsAProblem() {
        let status = Fleet.judge([Self.row("a", .green, "healthy"), Self.row("b", .blue, "healthy")])
        #expect(status.overall == "degraded" && status.live == nil)
        #expect(status.problems == ["mixed fleet: the hosts serve different pools (a green, b blue); bgctl switch POOL brings them together"])
    }

    @Test func aHostNotReachedIsUnknownNeverCountedAsServing() {
        let status = Fleet.judge([Self.row("a", .green, "healthy"), Self.row("b", nil, "unknown")])
        #expect(status.overall == "degraded" && status.live == nil)
        #expect(status.problems == ["b: unknown"])
        #expect(Fleet.judge([Self.row("a", nil, "unknown")]).overall == "not_serving")
    }
}

/// A fleet deploy's sequencing across scripted agents: each rule on its own.
@Suite struct FleetDeployTests {
    static func spec(beforeSwitch: Bool = false) throws -> DeploymentSpec {
        var yaml = """
        version: 1
        project: shop
        pools:
          blue: {image: "shop/api:1"}
          green: {image: "shop/api:1"}
        watch: {min_requests: 10}
        hosts:
          - {name: web1, docker: "ssh://deploy@10.0.0.11"}
          - {name: web2, docker: "ssh://deploy@10.0.0.12"}

        """
        if beforeSwitch { yaml += "deploy:\n  before_switch: [[\"/app/migrate\"]]\n" }
        return try SpecLoader.parse(yaml: yaml, file: "bgctl.yaml", variables: [:]).get()
    }

    static func staged(_ live: Pool = .blue) -> AgentReply {
        AgentReply(fields: ["ok": "true", "live": live.rawValue, "target": live.other.rawValue])
    }

    static func analysed(_ requests: Int, errors: Int = 0, state: String = "done", why: String = "") -> AgentReply {
        AgentReply(fields: ["ok": "true", "state": state, "why": why, "requests": String(requests), "errors": String(errors),
                            "retried": "0", "failovers": "0", "seconds": "2.000"])
    }

    /// Agents that stage from blue and prepare as the deploy moves them (green, then back to blue).
    final class DeployAgent: AgentChannel, @unchecked Sendable {
        let host: String
        let inner: ScriptedAgent
        private let lock = NSLock()
        private var live = Pool.blue
        private(set) var verdicts: [String] = []

        init(_ host: String, _ script: [String: AgentReply] = [:]) {
            self.host = host
            var script = script
            if script["stage"] == nil { script["stage"] = FleetDeployTests.staged() }
            if script["analyse"] == nil { script["analyse"] = FleetDeployTests.analysed(20) }
            if script["canary_analyse"] == nil { script["canary_analyse"] = AgentReply(fields: ["ok": "true", "result": "passed", "why": "as good as blue"]) }
            inner = ScriptedAgent(host, script)
        }

        var requests: [String] { inner.requests }

        func call(_ request: [String: String], timeout: Double) -> AgentReply {
            switch request["op"] {
            case "prepare":
                let scripted = inner.call(request, timeout: timeout)
                guard scripted.ok else { return scripted }
                let target = request["target"] ?? ""
                return AgentReply(fields: ["ok": "true", "live": lock.withLock { live.rawValue }, "changes": lock.withLock { live.rawValue } == target ? "false" : "true"])
            case "record":
                let reply = inner.call(request, timeout: timeout)
                lock.withLock { live = live.other }
                return reply
            case "verdict":
                lock.withLock { verdicts.append(request["result"] ?? "?") }
                return inner.call(request, timeout: timeout)
            default:
                return inner.call(request, timeout: timeout)
            }
        }

        func close() { inner.close() }
        func abandon() { inner.close() }
    }

    static func run(_ agents: [DeployAgent], beforeSwitch: Bool = false, noSwitch: Bool = false) throws -> FleetDeployOutcome {
        var request = DeployRequest(image: "shop/api:2")
        request.release = "v2"
        request.analyze = 2
        request.noSwitch = noSwitch
        return FleetDeploy.run(agents, request: request, spec: try spec(beforeSwitch: beforeSwitch), report: { _ in }, cancelled: { false })
    }

    static func canary(_ agents: [DeployAgent]) throws -> FleetDeployOutcome {
        var request = DeployRequest(image: "shop/api:2")
        request.release = "v2"
        request.canary = [5, 25]
        request.step = 2
        return FleetDeploy.run(agents, request: request, spec: try spec(), report: { _ in }, cancelled: { false })
    }

    @Test func aCanaryStepsEveryHostTogetherThenPromotesWithTheFleetSwitch() throws {
        let agents = [DeployAgent("web1"), DeployAgent("web2")]
        let outcome = try Self.canary(agents)
        #expect(outcome.result == .promoted)
        #expect(agents.allSatisfy { $0.requests == ["stage", "weight", "canary_analyse", "weight", "canary_analyse", "prepare", "flip", "record", "verdict"] })
        #expect(outcome.steps.map(\.percent) == [5, 25] && outcome.steps.allSatisfy { $0.hosts.map(\.result) == ["passed", "passed"] })
        #expect(agents.allSatisfy { $0.verdicts == ["promoted"] })
    }

    @Test func aCanaryStepFailingOnOneHostSetsTheWeightToZeroEverywhere() throws {
        let bad = AgentReply(fields: ["ok": "true", "result": "failed", "why": "error rate 12% against 0%"])
        let agents = [DeployAgent("web1"), DeployAgent("web2", ["canary_analyse": bad])]
        let outcome = try Self.canary(agents)
        #expect(outcome.result == .rolledBack && outcome.reason == "web2 at 5%: error rate 12% against 0%")
        #expect(agents.allSatisfy { $0.requests == ["stage", "weight", "canary_analyse", "weight", "verdict"] }, "the second weight is 0")
        #expect(agents.allSatisfy { $0.verdicts == ["rolled_back"] })
    }

    @Test func aWeightThatCannotBeSetRollsTheCanaryBack() throws {
        let agents = [DeployAgent("web1", ["weight": FleetSwitchTests.refused("the proxy is gone")]), DeployAgent("web2")]
        let outcome = try Self.canary(agents)
        #expect(outcome.result == .rollbackFailed, "the weight cannot go back to 0 on web1 either")
        #expect(outcome.reason.hasPrefix("moving to 5% failed on web1: the proxy is gone"))
        #expect(agents.allSatisfy { !$0.requests.contains("canary_analyse") })
    }

    @Test func aGoodReleaseIsStagedSwitchedAnalysedAndPromotedOnEveryHost() throws {
        let agents = [DeployAgent("web1"), DeployAgent("web2")]
        let outcome = try Self.run(agents)
        #expect(outcome.result == .promoted)
        #expect(agents.allSatisfy { $0.requests == ["stage", "prepare", "flip", "record", "analyse", "verdict"] })
        #expect(agents.allSatisfy { $0.verdicts == ["promoted"] })
        #expect(outcome.figures?.requests == 40, "the fleet's figures are the hosts' added up")
        #expect(outcome.target == .green && outcome.previous == .blue)
    }

    @Test func aHostThatCannotStageStopsTheDeployBeforeAnyHostSwitches() throws {
        let agents = [DeployAgent("web1"), DeployAgent("web2", ["stage": FleetSwitchTests.refused("green is not healthy")])]
        let outcome = try Self.run(agents)
        #expect(outcome.result == .aborted)
        #expect(outcome.reason == "web2 could not stage the release (green is not healthy); no host was switched")
        #expect(agents.allSatisfy { !$0.requests.contains("flip") && !$0.requests.contains("prepare") })
        #expect(agents.allSatisfy { $0.verdicts == ["aborted"] }, "every host records why")
    }

    @Test func hostsThatServeDifferentPoolsAreNotDeployedTo() throws {
        let agents = [DeployAgent("web1"), DeployAgent("web2", ["stage": Self.staged(.green)])]
        let outcome = try Self.run(agents)
        #expect(outcome.result == .aborted)
        #expect(outcome.reason.hasPrefix("the hosts do not serve one pool (web1 blue, web2 green)"))
        #expect(agents.allSatisfy { !$0.requests.contains("prepare") })
    }

    @Test func beforeSwitchRunsOnceOnTheFirstHostAndItsFailureSwitchesNothing() throws {
        let agents = [DeployAgent("web1"), DeployAgent("web2")]
        #expect(try Self.run(agents, beforeSwitch: true).result == .promoted)
        #expect(agents[0].requests.filter { $0 == "before_switch" }.count == 1 && !agents[1].requests.contains("before_switch"))
        let failing = [DeployAgent("web1", ["before_switch": FleetSwitchTests.refused("exit 3")]), DeployAgent("web2")]
        let outcome = try Self.run(failing, beforeSwitch: true)
        #expect(outcome.result == .beforeSwitchFailed)
        #expect(failing.allSatisfy { !$0.requests.contains("flip") && $0.verdicts == ["before_switch_failed"] })
    }

    @Test func noSwitchStagesEveryHostAndStops() throws {
        let agents = [DeployAgent("web1"), DeployAgent("web2")]
        let outcome = try Self.run(agents, noSwitch: true)
        #expect(outcome.result == .staged)
        #expect(agents.allSatisfy { $0.requests == ["stage", "verdict"] && $0.verdicts == ["staged"] })
    }

    @Test func aReleaseThatFailsOnOneHostRollsEveryHostBack() throws {
        let agents = [DeployAgent("web1"), DeployAgent("web2", ["analyse": Self.analysed(20, errors: 9, state: "failed", why: "error rate 45%")])]
        let outcome = try Self.run(agents)
        #expect(outcome.result == .rolledBack)
        #expect(outcome.reason == "web2: error rate 45%")
        #expect(outcome.rolledBack?.result == .switched && outcome.rolledBack?.target == .blue)
        #expect(agents.allSatisfy { $0.requests == ["stage", "prepare", "flip", "record", "analyse", "prepare", "flip", "record", "verdict"] })
        #expect(agents.allSatisfy { $0.verdicts == ["rolled_back"] })
    }

    @Test func aSwitchThatDoesNotGoThroughIsAbortedWithNothingToRollBack() throws {
        let agents = [DeployAgent("web1"), DeployAgent("web2", ["flip": FleetSwitchTests.refused("the check failed")])]
        let outcome = try Self.run(agents)
        #expect(outcome.result == .aborted && outcome.switched?.result == .flippedBack)
        #expect(agents.allSatisfy { !$0.requests.contains("analyse") && $0.verdicts == ["aborted"] })
    }

    @Test func oneHostFailingASliceEndsEveryHostsAnalysis() throws {
        // web1 would run on (its scripted reply never says done); web2 fails its first slice.
        let stopping = [DeployAgent("web1", ["analyse": Self.analysed(5, state: "running")]),
                        DeployAgent("web2", ["analyse": Self.analysed(20, errors: 20, state: "failed", why: "all errors")])]
        let outcome = try Self.run(stopping)
        #expect(outcome.result == .rolledBack && outcome.reason == "web2: all errors")
        #expect(stopping[0].requests.filter { $0 == "analyse" }.count == 1, "one failing slice ends every host's analysis")
    }
}

extension FleetDeployTests {
    @Test func anAnalysisStateThisSideDoesNotKnowFailsTheReleaseAtOnce() throws {
        let odd = AgentReply(fields: ["ok": "true", "state": "maybe", "requests": "20", "errors": "0", "retried": "0", "failovers": "0"])
        let agents = [DeployAgent("web1"), DeployAgent("web2", ["analyse": odd])]
        let outcome = try Self.run(agents)
        #expect(outcome.result == .rolledBack && outcome.reason == "web2: failed (state maybe)")
        #expect(agents[1].requests.filter { $0 == "analyse" }.count == 1)
    }
}

/// The fleet's verdict from every host's figures.
@Suite struct FleetVerdictTests {
    static let policy = DeployPolicy(errorRateThreshold: 5, minRequests: 10, maxP95: nil, inconclusive: .rollback)

    static func host(_ name: String, _ requests: Int, _ errors: Int = 0, failure: String? = nil) -> HostAnalysis {
        HostAnalysis(host: name, figures: AnalysisFigures(requests: requests, errors: errors), failure: failure)
    }

    @Test func healthyHostsPromoteOnTheirTotal() {
        let verdict = FleetVerdict.judge([Self.host("a", 50), Self.host("b", 50, 1)], policy: Self.policy)
        #expect(verdict.promote && verdict.figures.requests == 100 && verdict.figures.errors == 1)
    }

    @Test func oneHostsFailureFailsTheFleet() {
        let verdict = FleetVerdict.judge([Self.host("a", 500), Self.host("b", 50, failure: "error rate 20%")], policy: Self.policy)
        #expect(!verdict.promote && verdict.reason == "b: error rate 20%")
    }

    @Test func oneHostsBadFiguresFailTheFleetEvenWhenTheTotalPasses() {
        // 10 errors in 1010 requests is under 5% for the fleet, but b's own 10 of 10 is not.
        let verdict = FleetVerdict.judge([Self.host("a", 1000), Self.host("b", 10, 10)], policy: Self.policy)
        #expect(!verdict.promote && verdict.reason.hasPrefix("b: error rate"))
    }

    @Test func aQuietHostDoesNotDecideAlone() {
        // b alone is inconclusive (3 requests), the fleet's 103 are not.
        let verdict = FleetVerdict.judge([Self.host("a", 100), Self.host("b", 3)], policy: Self.policy)
        #expect(verdict.promote)
    }

    @Test func tooFewRequestsInTheWholeFleetFollowTheInconclusivePolicy() {
        let verdict = FleetVerdict.judge([Self.host("a", 4), Self.host("b", 3)], policy: Self.policy)
        #expect(!verdict.promote && verdict.reason.contains("inconclusive"))
    }

    @Test func aHostWithoutFiguresFailsTheFleet() {
        let verdict = FleetVerdict.judge([Self.host("a", 100), HostAnalysis(host: "b", figures: nil, failure: nil)], policy: Self.policy)
        #expect(!verdict.promote && verdict.reason == "b: no figures")
    }
}

/// Figures as an agent's reply carries them.
@Suite struct FleetFiguresTests {
    @Test func figuresSurviveTheTripThroughStrings() {
        let figures = AnalysisFigures(requests: 120, errors: 3, retried: 2, failovers: 1, p95: 0.0125, seconds: 4)
        let parsed = FleetFigures.parse(FleetFigures.fields(figures))
        #expect(parsed?.requests == 120 && parsed?.errors == 3 && parsed?.retried == 2 && parsed?.failovers == 1)
        #expect(abs((parsed?.p95 ?? 0) - 0.0125) < 1e-9 && parsed?.seconds == 4)
    }

    @Test(arguments: [("requests", "-1"), ("requests", "1000000000001"), ("errors", "x"), ("retried", ""), ("failovers", "1.5")])
    func aCountThatIsNotAWholeNumberInRangeIsRefused(key: String, value: String) {
        var fields = FleetFigures.fields(AnalysisFigures(requests: 10, errors: 1))
        fields[key] = value
        #expect(FleetFigures.parse(fields) == nil)
    }

    @Test func moreErrorsThanRequestsIsRefused() {
        #expect(FleetFigures.parse(FleetFigures.fields(AnalysisFigures(requests: 10, errors: 11))) == nil)
        #expect(FleetFigures.parse(FleetFigures.fields(AnalysisFigures(requests: 10, errors: 10))) != nil)
    }

    @Test func aP95OutOfRangeIsDropped() {
        var fields = FleetFigures.fields(AnalysisFigures(requests: 10))
        fields["p95"] = "inf"
        #expect(FleetFigures.parse(fields)?.p95 == nil)
        fields["p95"] = "86400"
        #expect(FleetFigures.parse(fields)?.p95 == nil)
        fields["p95"] = "86399"
        #expect(FleetFigures.parse(fields)?.p95 == 86399)
    }
}

/// fleet.strategy: rolling, batch hosts at a time.
@Suite struct FleetRollingTests {
    typealias Agent = FleetDeployTests.DeployAgent

    static func run(_ agents: [Agent], batch: Int) -> FleetSwitchOutcome {
        FleetSwitch.rolling(agents, target: .green, force: false, batch: batch, flipTimeout: 5, report: { _ in })
    }

    @Test func eachBatchIsPreparedFlippedAndRecordedBeforeTheNext() {
        let agents = ["a", "b", "c"].map { Agent($0) }
        let outcome = Self.run(agents, batch: 2)
        #expect(outcome.result == .switched)
        #expect(agents.allSatisfy { $0.requests == ["prepare", "flip", "record"] })
        #expect(outcome.hosts.map(\.state) == [.switched, .switched, .switched])
    }

    @Test func aFailingBatchSwitchesTheBatchesBeforeItBackAndNeverTouchesTheRest() {
        let agents = [Agent("a"), Agent("b", ["flip": FleetSwitchTests.refused("check failed")]), Agent("c")]
        let outcome = Self.run(agents, batch: 1)
        #expect(outcome.result == .flippedBack)
        #expect(agents[0].requests == ["prepare", "flip", "record", "prepare", "flip", "record"], "a moved, then moved back")
        #expect(agents[1].requests == ["prepare", "flip"])
        #expect(agents[2].requests.isEmpty)
        #expect(outcome.hosts.map(\.state) == [.flippedBack, .failed, .untouched])
        #expect(outcome.reason == "batch 2 (b): the flip failed on b: check failed; 1 host after it never touched; the batches before it were switched back")
    }

    @Test func aFirstBatchThatCannotPrepareMovesNothing() {
        let agents = [Agent("a", ["prepare": FleetSwitchTests.refused("green is down")]), Agent("b")]
        let outcome = Self.run(agents, batch: 1)
        #expect(outcome.result == .aborted)
        #expect(agents[1].requests.isEmpty)
    }

    @Test func aBatchThatCannotBeSwitchedBackIsMixed() {
        // a's switch back fails at its prepare: a serves green, b blue.
        let a = Agent("a")
        let agents = [a, Agent("b", ["flip": FleetSwitchTests.refused("no")])]
        let outcome = FleetSwitch.rolling([FailingSecondPrepare(a), agents[1]], target: .green, force: false, batch: 1, flipTimeout: 5, report: { _ in })
        #expect(outcome.result == .mixed)
        #expect(outcome.hosts[0].detail.hasPrefix("prepare: "))
    }

    /// Prepares once, then refuses.
    final class FailingSecondPrepare: AgentChannel, @unchecked Sendable {
        let inner: FleetDeployTests.DeployAgent
        var host: String { inner.host }
        private var prepared = 0
        init(_ inner: FleetDeployTests.DeployAgent) { self.inner = inner }
        func call(_ request: [String: String], timeout: Double) -> AgentReply {
            if request["op"] == "prepare" {
                prepared += 1
                if prepared > 1 { return FleetSwitchTests.refused("the proxy is gone") }
            }
            return inner.call(request, timeout: timeout)
        }
        func close() {}
        func abandon() {}
    }
}
