import Foundation
import NginxConfigGen
import Watcher

/// Analysis figures as an agent's reply carries them (strings), and back.
public enum FleetFigures {
    public static func fields(_ figures: AnalysisFigures) -> [String: String] {
        var fields = ["requests": String(figures.requests), "errors": String(figures.errors), "retried": String(figures.retried),
                      "failovers": String(figures.failovers), "seconds": String(format: "%.3f", figures.seconds)]
        if let p95 = figures.p95 { fields["p95"] = String(format: "%.6f", p95) }
        return fields
    }

    /// Nil when the fields hold no figures; counts must be whole numbers from 0 to 10^12.
    public static func parse(_ fields: [String: String]) -> AnalysisFigures? {
        func count(_ key: String) -> Int? {
            guard let text = fields[key], let value = Int(text), value >= 0, value <= 1_000_000_000_000 else { return nil }
            return value
        }
        guard let requests = count("requests"), let errors = count("errors"), errors <= requests,
              let retried = count("retried"), let failovers = count("failovers") else { return nil }
        let p95 = fields["p95"].flatMap(Double.init).flatMap { $0.isFinite && $0 >= 0 && $0 < 86_400 ? $0 : nil }
        let seconds = fields["seconds"].flatMap(Double.init).flatMap { $0.isFinite && $0 >= 0 && $0 < 86_400 * 7 ? $0 : nil } ?? 0
        return AnalysisFigures(requests: requests, errors: errors, retried: retried, failovers: failovers, p95: p95, seconds: seconds)
    }

    /// The fleet's figures: the hosts' counts added up, the worst p95, the longest analysis.
    public static func sum(_ all: [AnalysisFigures]) -> AnalysisFigures {
        AnalysisFigures(requests: all.reduce(0) { $0 + $1.requests }, errors: all.reduce(0) { $0 + $1.errors },
                        retried: all.reduce(0) { $0 + $1.retried }, failovers: all.reduce(0) { $0 + $1.failovers },
                        p95: all.compactMap(\.p95).max(), seconds: all.map(\.seconds).max() ?? 0)
    }
}

/// One host's analysis after a fleet deploy's switch.
public struct HostAnalysis: Sendable, Equatable {
    public var host: String
    public var figures: AnalysisFigures?
    /// Its own judgement of its log: nil when it passed, else why it failed (or could not be read).
    public var failure: String?
}

/// The fleet's verdict on a release from every host's analysis. Pure: a release fails when any host's
/// own log fails it (a bad release on one host is a bad release: the fleet rolls back together), or
/// when the hosts' figures added up fail the deploy policy; a host too quiet to judge alone does not
/// fail it while the fleet's total is conclusive.
public enum FleetVerdict {
    public static func judge(_ hosts: [HostAnalysis], policy: DeployPolicy) -> (promote: Bool, reason: String, figures: AnalysisFigures) {
        let total = FleetFigures.sum(hosts.compactMap(\.figures))
        if let bad = hosts.first(where: { $0.failure != nil }) {
            return (false, "\(bad.host): \(bad.failure!)", total)
        }
        for host in hosts {
            guard let figures = host.figures else { return (false, "\(host.host): no figures", total) }
            if case .fail(let why) = policy.judge(figures, final: true) { return (false, "\(host.host): \(why)", total) }
        }
        switch policy.verdict(total, canExtend: false) {
        case .promote(let why): return (true, "fleet \(why)", total)
        case .rollback(let why): return (false, "fleet: \(why)", total)
        case .extend: return (false, "fleet: inconclusive", total)
        }
    }
}

/// A fleet deploy's result: the verdict, the switches it made, every host's analysis.
public struct FleetDeployOutcome: Sendable {
    public var result: DeployOutcome.Result
    public var reason: String
    public var image: String
    public var release: String
    public var target: Pool?
    public var previous: Pool?
    /// The switch to the new release, and the switch back when it failed.
    public var switched: FleetSwitchOutcome?
    public var rolledBack: FleetSwitchOutcome?
    public var hosts: [HostAnalysis] = []
    public var figures: AnalysisFigures?
    public var total: Double = 0
    /// Some host is not known to serve the pool the others do.
    public var mixed = false
    /// A canary deploy's steps: each weight and every host's result there.
    public var steps: [FleetCanaryStep] = []
}

/// One canary step on the fleet: its weight, and each host's result (passed, failed, aborted) and why.
public struct FleetCanaryStep: Sendable, Equatable {
    public var percent: Int
    public var hosts: [(host: String, result: String, reason: String)]

    public static func == (a: Self, b: Self) -> Bool {
        a.percent == b.percent && a.hosts.map { [$0.host, $0.result, $0.reason] } == b.hosts.map { [$0.host, $0.result, $0.reason] }
    }
}

extension Fleet {
    /// One agent session per host, each holding that host's lock (taken in the hosts' order). On a
    /// failure the sessions opened are closed, and the host and why are returned.
    func openSessions(lockWait: Double) -> (channels: [ProcessAgentChannel], failure: (host: String, why: String)?) {
        var channels: [ProcessAgentChannel] = []
        // Every session starts at once (reaching a host and starting its agent is most of the cost);
        // the locks are then taken one host after the other, in the hosts' order, so two bgctl driving
        // the same fleet can never each hold a lock the other waits for.
        let report = self.report
        for host in fleet.hosts {
            do {
                channels.append(try ProcessAgentChannel(host: host.name, argv: agentArgv(host, ["agent", "serve", "--lock-wait", "\(Int(lockWait))s"], interactive: true),
                                                        environment: environment, slots: HostSlots.shared) { line in report(.detail("\(host.name) | \(line)")) })
            } catch {
                channels.forEach { $0.close() }
                return ([], (host.name, Executor.describe(error)))
            }
        }
        for channel in channels {
            let hello = channel.call(["op": "start"], timeout: lockWait + 60)
            guard hello.ok else {
                channels.forEach { $0.close() }
                return ([], (channel.host, "could not take its lock: \(hello.problem)"))
            }
        }
        return (channels, nil)
    }

    /// Lets go at once of every host that never answered: its agent sees the session end and undoes
    /// what it was not told to keep.
    static func abandonUnknown(_ outcome: FleetSwitchOutcome, _ channels: [AgentChannel]) {
        for (index, row) in outcome.hosts.enumerated() where row.state == .unknown { channels[index].abandon() }
    }

    // MARK: - deploy

    /// A blue-green deploy across the fleet: the release staged on every host's idle pool at once →
    /// deploy.before_switch once, on the first host → the all-or-nothing switch → every host's log
    /// analysed for the same window → one verdict for the fleet, recorded on every host; a failing
    /// verdict switches every host back together (the previous pool still warm everywhere).
    public func deploy(_ request: DeployRequest, lockWait: Double) -> FleetDeployOutcome {
        let started = DispatchTime.now().uptimeNanoseconds
        let (channels, failure) = openSessions(lockWait: lockWait)
        guard failure == nil else {
            return FleetDeployOutcome(result: .aborted, reason: "\(failure!.host): \(failure!.why); nothing was changed on any host",
                                      image: request.image, release: request.releaseLabel,
                                      total: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
        }
        defer { channels.forEach { $0.close() } }
        var outcome = FleetDeploy.run(channels, request: request, spec: spec, report: report, cancelled: cancelled)
        outcome.total = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return outcome
    }
}

/// A fleet deploy's sequencing across the hosts' agents (each host's work is its agent's).
public enum FleetDeploy {
    public static func run(_ channels: [AgentChannel], request: DeployRequest, spec: DeploymentSpec, clock: Clock = .system,
                           report: @escaping Reporter, cancelled: @escaping @Sendable () -> Bool) -> FleetDeployOutcome {
        let fleet = spec.fleet!
        let started = clock.monotonic()
        var outcome = FleetDeployOutcome(result: .aborted, reason: "", image: request.image, release: request.releaseLabel)
        func done(_ result: DeployOutcome.Result, _ reason: String) -> FleetDeployOutcome {
            outcome.result = result
            outcome.reason = reason
            outcome.total = clock.monotonic() - started
            return outcome
        }
        let seconds = request.analyze ?? spec.deploy.analyze.seconds
        // Every verdict is recorded on every host still in the conversation.
        func recordVerdict(_ result: DeployOutcome.Result, _ reason: String, analysed: Double = 0) {
            recordAll(result, reason, analysed)
        }
        func recordAll(_ result: DeployOutcome.Result, _ reason: String, _ analysed: Double) {
            let replies = Fan.out(Array(zip(channels, outcome.hosts.isEmpty ? channels.map { HostAnalysis(host: $0.host) } : outcome.hosts))) { pair in
                var fields = ["op": "verdict", "result": result.rawValue, "reason": reason, "analysed": String(analysed)]
                if let figures = pair.1.figures { fields.merge(FleetFigures.fields(figures)) { _, own in own } }
                return pair.0.call(fields, timeout: 120)
            }
            for (channel, reply) in zip(channels, replies) where !reply.ok {
                report(.warning("\(channel.host): the verdict was not recorded (\(reply.problem))"))
            }
        }

        // Stage: the live pools untouched everywhere.
        report(.step("staging \(request.image) (release \(request.releaseLabel)) on the idle pool of \(channels.count) host\(channels.count == 1 ? "" : "s")"))
        var stage: [String: String] = ["op": "stage", "image": request.image, "release": request.releaseLabel, "analyze": String(seconds)]
        if !request.env.isEmpty, let data = try? JSONSerialization.data(withJSONObject: request.env, options: [.sortedKeys]) {
            stage["env"] = String(decoding: data, as: UTF8.self)
        }
        if let reason = request.reason { stage["reason"] = reason }
        let canary = request.canarySteps(spec)
        if let canary {
            stage["canary"] = canary.map(String.init).joined(separator: ",")
            stage["step"] = String(request.step ?? spec.deploy.step.seconds)
            stage["sticky"] = (request.sticky ?? (spec.deploy.sticky == .cookie)) ? "true" : "false"
        }
        let staging = stage
        let staged = Fan.out(channels) { $0.call(staging, timeout: 3600) }
        let targets = Set(staged.compactMap { $0.fields["target"].flatMap(Pool.init(rawValue:)) })
        outcome.target = staged.first?.fields["target"].flatMap(Pool.init(rawValue:))
        outcome.previous = staged.first?.fields["live"].flatMap(Pool.init(rawValue:))
        if let bad = staged.firstIndex(where: { !$0.ok }) {
            let reason = "\(channels[bad].host) could not stage the release (\(staged[bad].problem)); no host was switched"
            recordVerdict(.aborted, reason)
            return done(.aborted, reason)
        }
        guard targets.count == 1, let target = outcome.target, let previous = outcome.previous else {
            let which = zip(channels, staged).map { "\($0.host) \($1.fields["live"] ?? "?")" }.joined(separator: ", ")
            let reason = "the hosts do not serve one pool (\(which)); bgctl switch POOL brings them together first"
            recordVerdict(.aborted, reason)
            return done(.aborted, reason)
        }
        if cancelled() {
            recordVerdict(.aborted, "stopped by a signal before the switch; \(previous.rawValue) was never touched")
            return done(.aborted, "stopped by a signal before the switch; \(previous.rawValue) was never touched on any host")
        }

        // before_switch: once for the fleet, on the first host (the commands act on what the hosts share).
        if !spec.deploy.beforeSwitch.isEmpty {
            report(.step("before_switch on \(channels[0].host) (once for the fleet)"))
            let ran = channels[0].call(["op": "before_switch"], timeout: spec.deploy.beforeSwitchTimeout.seconds + 120)
            if !ran.ok {
                let reason = "before_switch on \(channels[0].host): \(ran.problem); no host was switched"
                recordVerdict(.beforeSwitchFailed, reason)
                return done(.beforeSwitchFailed, reason)
            }
        }

        if request.noSwitch {
            let reason = "staged on \(target.rawValue) on every host; bgctl switch \(target.rawValue) makes it live everywhere"
            recordVerdict(.staged, reason)
            return done(.staged, reason)
        }

        if let canary {
            return runCanary(channels, steps: canary, seconds: request.step ?? spec.deploy.step.seconds, target: target, previous: previous,
                             fleet: fleet, report: report, cancelled: cancelled, record: recordAll, done: done,
                             noted: { step, switched, mixed in
                                 if let step { outcome.steps.append(step) }
                                 if let switched { outcome.switched = switched }
                                 if mixed { outcome.mixed = true }
                             })
        }

        // The switch, all or nothing.
        let switched = FleetSwitch.move(channels, target: target, force: false, fleet: fleet, report: report)
        outcome.switched = switched
        Fleet.abandonUnknown(switched, channels)
        switch switched.result {
        case .switched, .unchanged:
            break
        case .aborted, .flippedBack:
            let reason = "the switch did not go through: \(switched.reason)"
            recordVerdict(.aborted, reason)
            return done(.aborted, reason)
        case .mixed:
            outcome.mixed = true
            let reason = "the switch left the fleet mixed: \(switched.reason)"
            recordVerdict(.aborted, reason)
            return done(.aborted, reason)
        }

        // Analysis: every host's log over the same window, judged together.
        report(.step("analysing every host's log for \(Int(seconds)) s"))
        let analysedFrom = clock.monotonic()
        let replies = analyseTogether(channels, seconds: seconds, report: report, cancelled: cancelled)
        outcome.hosts = zip(channels, replies).map { channel, reply in
            guard reply.ok else { return HostAnalysis(host: channel.host, figures: nil, failure: "analysis failed: \(reply.problem)") }
            // A host still running when another failed is not a failure of its own.
            let failure = ["running", "done"].contains(reply.fields["state"] ?? "") ? nil : reply.fields["why"].flatMap { $0.isEmpty ? nil : $0 } ?? "failed (state \(reply.fields["state"] ?? "none"))"
            return HostAnalysis(host: channel.host, figures: FleetFigures.parse(reply.fields), failure: failure)
        }
        let analysed = clock.monotonic() - analysedFrom
        var (promote, reason, figures) = FleetVerdict.judge(outcome.hosts, policy: DeployPolicy(spec: spec))
        outcome.figures = figures
        var result: DeployOutcome.Result = .rolledBack
        if cancelled() {
            (promote, reason, result) = (false, "aborted by a signal during the analysis", .aborted)
        }
        if promote {
            recordVerdict(.promoted, reason, analysed: analysed)
            return done(.promoted, reason)
        }

        // Back together (all at once, whatever the strategy), to the pool every host served before (still running, warm).
        report(.warning("rolling back every host: \(reason)"))
        let back = FleetSwitch.run(channels, target: previous, force: false, flipTimeout: fleet.flipTimeout.seconds, report: report)
        outcome.rolledBack = back
        Fleet.abandonUnknown(back, channels)
        guard back.result == .switched || back.result == .unchanged else {
            outcome.mixed = back.result == .mixed
            recordVerdict(.rollbackFailed, "\(reason); the rollback to \(previous.rawValue) did not go through: \(back.reason)", analysed: analysed)
            return done(.rollbackFailed, "\(reason); the rollback to \(previous.rawValue) did not go through: \(back.reason)")
        }
        recordVerdict(result, reason, analysed: analysed)
        return done(result, reason)
    }

    /// A canary across the fleet: each step's weight on every host at once, every host's step analysed
    /// (the canary against the baseline, on its own log), then the next; the step fails when any host's
    /// fails. Passed everywhere: the promotion is the fleet's all-or-nothing switch. A failing step, a
    /// weight that cannot be set, a promotion that does not go through, or a signal: weight 0 on every
    /// host (the baseline alone, as before the deploy), verdict rolled_back or aborted.
    static func runCanary(_ channels: [AgentChannel], steps: [Int], seconds: Double, target: Pool, previous: Pool,
                          fleet: FleetSpec, report: @escaping Reporter, cancelled: () -> Bool,
                          record: (DeployOutcome.Result, String, Double) -> Void,
                          done: (DeployOutcome.Result, String) -> FleetDeployOutcome,
                          noted: (FleetCanaryStep?, FleetSwitchOutcome?, Bool) -> Void) -> FleetDeployOutcome {
        let moved = DispatchTime.now().uptimeNanoseconds
        var analysed: Double { Double(DispatchTime.now().uptimeNanoseconds - moved) / 1e9 }
        func off(_ result: DeployOutcome.Result, _ reason: String) -> FleetDeployOutcome {
            report(.warning((result == .aborted ? "aborting: " : "rolling back: ") + reason))
            let zero = Fan.out(channels) { $0.call(["op": "weight", "percent": "0"], timeout: 120) }
            let failed = zip(channels, zero).filter { !$1.ok }.map { "\($0.host): \($1.problem)" }
            guard failed.isEmpty else {
                let why = "\(reason); setting \(target.rawValue)'s weight to 0 failed on \(failed.joined(separator: "; "))"
                record(.rollbackFailed, why, analysed)
                return done(.rollbackFailed, why)
            }
            record(result, reason, analysed)
            return done(result, reason)
        }
        for percent in steps {
            if cancelled() { return off(.aborted, "stopped by a signal before the \(percent)% step; \(previous.rawValue) takes every request") }
            report(.step("canary: \(percent)% of requests to \(target.rawValue) on every host"))
            let weighted = Fan.out(channels) { $0.call(["op": "weight", "percent": String(percent)], timeout: 120) }
            if let bad = weighted.firstIndex(where: { !$0.ok }) {
                return off(.rolledBack, "moving to \(percent)% failed on \(channels[bad].host): \(weighted[bad].problem)")
            }
            let judged = Fan.out(channels) { $0.call(["op": "canary_analyse", "percent": String(percent)], timeout: seconds * 3 + 300) }
            let rows = zip(channels, judged).map { channel, reply in
                (host: channel.host, result: reply.ok ? reply.fields["result"] ?? "failed" : "failed",
                 reason: reply.ok ? reply.fields["why"] ?? "" : "analysis failed: \(reply.problem)")
            }
            noted(FleetCanaryStep(percent: percent, hosts: rows), nil, false)
            if let bad = rows.first(where: { $0.result == "failed" }) { return off(.rolledBack, "\(bad.host) at \(percent)%: \(bad.reason)") }
            if let stopped = rows.first(where: { $0.result == "aborted" }) { return off(.aborted, "\(stopped.host) at \(percent)%: \(stopped.reason)") }
            if cancelled() { return off(.aborted, "stopped by a signal after the \(percent)% step; \(previous.rawValue) takes every request") }
            report(.done("\(percent)% passed on every host"))
        }
        let promoted = FleetSwitch.move(channels, target: target, force: false, fleet: fleet, report: report)
        noted(nil, promoted, promoted.result == .mixed)
        Fleet.abandonUnknown(promoted, channels)
        guard promoted.result == .switched || promoted.result == .unchanged else {
            return off(.rolledBack, "the promotion did not go through: \(promoted.reason)")
        }
        let reason = "the canary passed " + steps.map { "\($0)%" }.joined(separator: ", ") + " on every host"
        record(.promoted, reason, analysed)
        return done(.promoted, reason)
    }

    /// Every host's analysis in slices of a second, until every window is over, or any host fails the
    /// release or cannot answer, or a signal asks to stop: the last reply of each host.
    static func analyseTogether(_ channels: [AgentChannel], seconds: Double, report: Reporter, cancelled: () -> Bool) -> [AgentReply] {
        let request = ["op": "analyse", "seconds": String(seconds), "slice": "1"]
        var lastReport = DispatchTime.now().uptimeNanoseconds
        // Bounded: an agent still "running" past twice the window (and two minutes) did not answer.
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64((seconds * 2 + 120) * 1e9)
        while true {
            let replies = Fan.out(channels) { $0.call(request, timeout: 60) }
            // A state this side does not know is a failure, never a reason to ask again.
            if replies.contains(where: { !$0.ok || !["running", "done"].contains($0.fields["state"] ?? "") }) || cancelled() { return replies }
            if replies.allSatisfy({ $0.fields["state"] == "done" }) { return replies }
            if DispatchTime.now().uptimeNanoseconds >= deadline {
                return replies.map { $0.fields["state"] == "done" ? $0 : AgentReply(failure: .timedOut) }
            }
            if DispatchTime.now().uptimeNanoseconds - lastReport >= 5_000_000_000 {
                lastReport = DispatchTime.now().uptimeNanoseconds
                report(.waiting("analysing: \(FleetFigures.sum(replies.compactMap { FleetFigures.parse($0.fields) }).summary) on \(channels.count) hosts"))
            }
        }
    }

}

extension Fleet {
    // MARK: - rollback and recover

    /// The all-or-nothing switch back to the pool that was live before, which every host must agree on.
    public func rollback(force: Bool, lockWait: Double) -> FleetSwitchOutcome {
        let started = DispatchTime.now().uptimeNanoseconds
        let (channels, failure) = openSessions(lockWait: lockWait)
        if let failure { return Self.notStarted(fleet, spec.active, failure.host, failure.why, started: started) }
        defer { channels.forEach { $0.close() } }
        let previous = Fan.out(channels) { $0.call(["op": "previous"], timeout: 60) }
        if let bad = previous.firstIndex(where: { !$0.ok }) {
            return Self.notStarted(fleet, spec.active, channels[bad].host, previous[bad].problem, started: started)
        }
        let pools = Set(previous.compactMap { $0.fields["previous"].flatMap(Pool.init(rawValue:)) })
        guard pools.count == 1, let target = pools.first else {
            let which = zip(channels, previous).map { "\($0.host) \($1.fields["previous"] ?? "?")" }.joined(separator: ", ")
            return Self.notStarted(fleet, spec.active, channels[0].host, "the hosts' histories name different previous pools (\(which)); bgctl switch POOL", started: started)
        }
        var outcome = FleetSwitch.move(channels, target: target, force: force, fleet: fleet, report: report)
        Self.abandonUnknown(outcome, channels)
        outcome.total = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return outcome
    }

    /// After a coordinator died: every host finishes or undoes its own journal (taking its lock does),
    /// then a fleet left mixed is brought to the pool the newest recorded move chose — a host records a
    /// fleet switch only once every host flipped, so that pool is the one the fleet agreed on.
    public func recover(lockWait: Double) -> (outcome: FleetSwitchOutcome?, rows: [(host: String, live: Pool?, since: String?)], reason: String) {
        let started = DispatchTime.now().uptimeNanoseconds
        let (channels, failure) = openSessions(lockWait: lockWait)
        if let failure {
            return (Self.notStarted(fleet, spec.active, failure.host, failure.why, started: started), [], "\(failure.host): \(failure.why)")
        }
        defer { channels.forEach { $0.close() } }
        let replies = Fan.out(channels) { $0.call(["op": "where"], timeout: 60) }
        let rows = zip(channels, replies).map { channel, reply in
            (host: channel.host, live: reply.ok ? reply.fields["live"].flatMap(Pool.init(rawValue:)) : nil,
             since: reply.fields["since"].flatMap { $0.isEmpty ? nil : $0 })
        }
        if let lost = rows.first(where: { $0.live == nil }) {
            return (nil, rows, "\(lost.host) did not say which pool it serves; nothing was changed")
        }
        let pools = Set(rows.compactMap(\.live))
        guard pools.count > 1 else { return (nil, rows, "every host serves \(pools.first!.rawValue); nothing to reconcile") }
        // ISO times in UTC compare as text; a host with no recorded move loses to any that has one.
        let newest = rows.max { ($0.since ?? "") < ($1.since ?? "") }!
        let target = newest.live!
        report(.step("the hosts serve different pools; \(newest.host) recorded the newest move (to \(target.rawValue)): bringing every host to it"))
        var outcome = FleetSwitch.run(channels, target: target, force: false, flipTimeout: fleet.flipTimeout.seconds, report: report)
        Self.abandonUnknown(outcome, channels)
        outcome.total = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return (outcome, rows, outcome.reason)
    }
}
