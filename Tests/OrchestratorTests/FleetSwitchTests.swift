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
