import Foundation
import NginxConfigGen
import Synchronization

/// Where one host stands after a fleet operation.
public struct HostOutcome: Sendable, Equatable {
    public enum State: String, Sendable {
        /// Switched and recorded.
        case switched
        /// Already serving the target: nothing to do.
        case unchanged
        /// Not touched: the switch stopped before any host moved.
        case untouched
        /// Moved, then moved back when another host failed.
        case flippedBack = "flipped_back"
        /// Its flip or its check failed; it put itself back.
        case failed
        /// Not known: it did not answer. Its agent undoes a flip it never recorded once its session ends.
        case unknown
    }

    public var host: String
    public var state: State
    /// The pool it serves, as far as bgctl knows; nil when unknown.
    public var serving: Pool?
    public var detail: String
    /// Milliseconds its flip took, when it flipped.
    public var flipMs: Int?
}

/// A fleet switch's result: every host's row, and the window during which hosts served different pools.
public struct FleetSwitchOutcome: Sendable {
    public enum Result: String, Sendable {
        case switched
        /// Every host already served the target.
        case unchanged
        /// A host failed before any flip: nothing moved.
        case aborted
        /// A host failed during the flip: every host that had flipped was flipped back.
        case flippedBack = "flipped_back"
        /// Some host could not be put back, or did not answer: the rows say which serves what.
        case mixed
    }

    public var result: Result
    public var target: Pool
    public var hosts: [HostOutcome]
    /// From the first host's flip reply to the last one's, in seconds (the mixed window).
    public var mixedWindow: Double
    public var total: Double
    public var reason: String
}

/// The all-or-nothing switch across hosts: take every host's lock in a fixed order (the channels are
/// opened that way) → prepare all (target healthy, configuration tested; nothing changed) → flip all at
/// once → record all. A host that fails before the flip aborts with nothing flipped; a flip that fails
/// or does not answer within `flipTimeout` has every host that flipped flipped back. Pure sequencing:
/// each host's work is its agent's.
public enum FleetSwitch {
    public static func run(_ channels: [AgentChannel], target: Pool, force: Bool, flipTimeout: Double, callTimeout: Double = 120,
                           clock: Clock = .system, report: Reporter) -> FleetSwitchOutcome {
        let started = clock.monotonic()
        var rows = channels.map { HostOutcome(host: $0.host, state: .untouched, serving: nil, detail: "", flipMs: nil) }
        func outcome(_ result: FleetSwitchOutcome.Result, _ reason: String, window: Double = 0) -> FleetSwitchOutcome {
            FleetSwitchOutcome(result: result, target: target, hosts: rows, mixedWindow: window, total: clock.monotonic() - started, reason: reason)
        }
        // Prepare: nothing changes anywhere until every host says it can.
        let prepared = Fan.out(channels) { $0.call(["op": "prepare", "target": target.rawValue, "force": force ? "true" : "false"], timeout: callTimeout) }
        for (index, reply) in prepared.enumerated() {
            rows[index].serving = reply.fields["live"].flatMap(Pool.init(rawValue:))
            if !reply.ok { rows[index].detail = "prepare: " + reply.problem }
        }
        if let bad = prepared.firstIndex(where: { !$0.ok }) {
            for index in rows.indices where rows[index].detail.isEmpty { rows[index].detail = "ready; not flipped" }
            return outcome(.aborted, "\(channels[bad].host) cannot switch (\(prepared[bad].problem)); no host was flipped")
        }
        let moving = prepared.enumerated().filter { $0.element.fields["changes"] == "true" }.map(\.offset)
        for index in rows.indices where !moving.contains(index) {
            rows[index].state = .unchanged
            rows[index].serving = target
            rows[index].detail = "already serving \(target.rawValue)"
        }
        guard !moving.isEmpty else { return outcome(.unchanged, "every host already serves \(target.rawValue)") }
        report(.step("flipping \(moving.count) host\(moving.count == 1 ? "" : "s") to \(target.rawValue) at once"))
        // Flip: all at once, one deadline for all.
        let flipStart = clock.monotonic()
        let timed = Fan.out(moving.map { channels[$0] }) { channel -> (AgentReply, Double) in
            let reply = channel.call(["op": "flip"], timeout: flipTimeout)
            return (reply, clock.monotonic())
        }
        let flips = timed.map(\.0)
        var answeredAt: [Double] = []
        var failed: [String] = []
        for (slot, index) in moving.enumerated() {
            let reply = flips[slot]
            if reply.ok {
                rows[index].serving = target
                rows[index].flipMs = Int(reply.fields["ms"] ?? "")
                answeredAt.append(timed[slot].1 - flipStart)
            } else {
                failed.append("\(channels[index].host): \(reply.problem)")
                rows[index].detail = "flip: " + reply.problem
                if case .timedOut? = reply.failure {
                    rows[index].state = .unknown
                    rows[index].serving = nil
                } else {
                    rows[index].state = .failed
                }
            }
        }
        let window = (answeredAt.max() ?? 0) - (answeredAt.min() ?? 0)
        guard failed.isEmpty else {
            // Every host that flipped goes back; one that did not answer undoes its own flip when its session ends.
            let back = moving.filter { flips[moving.firstIndex(of: $0)!].ok }
            report(.warning("flip failed on \(failed.joined(separator: "; ")); flipping back \(back.map { channels[$0].host }.joined(separator: ", "))"))
            let undone = Fan.out(back.map { channels[$0] }) { $0.call(["op": "unflip"], timeout: callTimeout) }
            var mixed = false
            for (slot, index) in back.enumerated() {
                if undone[slot].ok {
                    rows[index].state = .flippedBack
                    rows[index].serving = prepared[index].fields["live"].flatMap(Pool.init(rawValue:))
                } else {
                    mixed = true
                    rows[index].state = .unknown
                    rows[index].serving = nil
                    rows[index].detail = "flip back: " + undone[slot].problem
                }
            }
            for index in moving where !back.contains(index) && rows[index].state == .failed {
                rows[index].serving = prepared[index].fields["live"].flatMap(Pool.init(rawValue:))
            }
            if rows.contains(where: { $0.state == .unknown }) { mixed = true }
            return outcome(mixed ? .mixed : .flippedBack, "the flip failed on \(failed.joined(separator: "; "))", window: window)
        }
        // Record: the move stands everywhere.
        let records = Fan.out(moving.map { channels[$0] }) { $0.call(["op": "record"], timeout: callTimeout) }
        var unrecorded: [String] = []
        for (slot, index) in moving.enumerated() {
            if records[slot].ok {
                rows[index].state = .switched
                rows[index].detail = "switched"
            } else {
                rows[index].state = .unknown
                rows[index].detail = "record: " + records[slot].problem
                unrecorded.append(channels[index].host)
            }
        }
        if !unrecorded.isEmpty {
            return outcome(.mixed, "serving \(target.rawValue) everywhere, but \(unrecorded.joined(separator: ", ")) did not record it", window: window)
        }
        return outcome(.switched, "every host serves \(target.rawValue)", window: window)
    }
}

extension FleetSwitch {
    /// The switch as fleet.strategy says: all at once, or rolling.
    public static func move(_ channels: [AgentChannel], target: Pool, force: Bool, fleet: FleetSpec, clock: Clock = .system,
                            report: Reporter) -> FleetSwitchOutcome {
        switch fleet.strategy {
        case .all:
            return run(channels, target: target, force: force, flipTimeout: fleet.flipTimeout.seconds, clock: clock, report: report)
        case .rolling:
            return rolling(channels, target: target, force: force, batch: fleet.batch, flipTimeout: fleet.flipTimeout.seconds,
                           clock: clock, report: report)
        }
    }

    /// `batch` hosts at a time, in the hosts' order, each batch all-or-nothing (`run`). When a batch does
    /// not go through, the hosts of the batches before it are switched back (all at once), so the fleet
    /// ends on one pool; the hosts after it are never touched. Every host's row says where it is.
    public static func rolling(_ channels: [AgentChannel], target: Pool, force: Bool, batch: Int, flipTimeout: Double,
                               clock: Clock = .system, report: Reporter) -> FleetSwitchOutcome {
        let started = clock.monotonic()
        let size = max(1, batch)
        var rows = channels.map { HostOutcome(host: $0.host, state: .untouched, serving: nil, detail: "not reached", flipMs: nil) }
        var moved: [Int] = []
        var firstFlip: Double?
        for (number, first) in stride(from: 0, to: channels.count, by: size).enumerated() {
            let members = Array(first..<min(first + size, channels.count))
            report(.step("batch \(number + 1) of \((channels.count + size - 1) / size): \(members.map { channels[$0].host }.joined(separator: ", "))"))
            let began = clock.monotonic()
            let outcome = run(members.map { channels[$0] }, target: target, force: force, flipTimeout: flipTimeout, clock: clock, report: report)
            if firstFlip == nil && outcome.result == .switched { firstFlip = began }
            for (slot, index) in members.enumerated() { rows[index] = outcome.hosts[slot] }
            guard outcome.result == .switched || outcome.result == .unchanged else {
                let later = channels.count - (members.last! + 1)
                var reason = "batch \(number + 1) (\(members.map { channels[$0].host }.joined(separator: ", "))): \(outcome.reason)"
                if later > 0 { reason += "; \(later) host\(later == 1 ? "" : "s") after it never touched" }
                var result: FleetSwitchOutcome.Result = outcome.result == .mixed ? .mixed : (moved.isEmpty ? outcome.result : .flippedBack)
                if !moved.isEmpty {
                    report(.warning("switching back the batches before: \(moved.map { channels[$0].host }.joined(separator: ", "))"))
                    let back = run(moved.map { channels[$0] }, target: target.other, force: true, flipTimeout: flipTimeout, clock: clock, report: report)
                    for (slot, index) in moved.enumerated() {
                        var row = back.hosts[slot]
                        if row.state == .switched {
                            row.state = .flippedBack
                            row.detail = "switched back (a later batch failed)"
                        }
                        rows[index] = row
                    }
                    if back.result != .switched && back.result != .unchanged { result = .mixed }
                    reason += back.result == .switched ? "; the batches before it were switched back" : "; switching the batches before it back: \(back.reason)"
                }
                return FleetSwitchOutcome(result: result, target: target, hosts: rows, mixedWindow: firstFlip.map { clock.monotonic() - $0 } ?? 0,
                                          total: clock.monotonic() - started, reason: reason)
            }
            moved += members.filter { rows[$0].state == .switched }
        }
        let all = rows.allSatisfy { $0.state == .unchanged }
        return FleetSwitchOutcome(result: all ? .unchanged : .switched, target: target, hosts: rows,
                                  mixedWindow: firstFlip.map { clock.monotonic() - $0 } ?? 0, total: clock.monotonic() - started,
                                  reason: all ? "every host already serves \(target.rawValue)" : "every host serves \(target.rawValue), \(size) at a time")
    }
}

/// Blocking calls to hosts, all at once (see `Parallel.threads`); results in order.
enum Fan {
    static func out<T: Sendable, R: Sendable>(_ items: [T], _ body: @escaping @Sendable (T) -> R) -> [R] {
        Parallel.threads(items, limit: FleetSpec.maxHosts, body)
    }
}
