import Foundation
import NginxConfigGen
import Orchestrator

/// up, switch, status and down on a fleet (the spec lists hosts): each host's part runs in its agent;
/// this prints one line per host and the fleet's verdict.
enum FleetCommands {
    static func up(_ fleet: Fleet, json: Bool) throws {
        let rows = fleet.up()
        let failed = rows.filter { $0.failure != nil }
        if json {
            JSONOutput.print("up", ["ok": failed.isEmpty, "project": fleet.spec.project,
                                    "hosts": rows.map { ["host": $0.host, "ok": $0.failure == nil, "error": $0.failure.map(Terminal.safe) as Any] }])
        } else {
            for row in rows { Terminal.stdout("\(row.host): " + (row.failure.map { "FAILED: " + Terminal.safe($0) } ?? "up")) }
        }
        if !failed.isEmpty { throw CLIError.exit(ExitStatus.failed) }
    }

    static func switchTo(_ fleet: Fleet, _ pool: Pool, force: Bool, lockWait: Double, json: Bool) throws {
        try report(fleet.switchTo(pool, force: force, lockWait: lockWait), command: "switch", json: json)
    }

    static func switchJSON(_ outcome: FleetSwitchOutcome) -> [String: Any] {
        ["ok": outcome.result == .switched || outcome.result == .unchanged, "result": outcome.result.rawValue, "to": outcome.target.rawValue,
         "reason": Terminal.safe(outcome.reason), "mixed_window_ms": JSONOutput.milliseconds(outcome.mixedWindow),
         "total_ms": JSONOutput.milliseconds(outcome.total),
         "hosts": outcome.hosts.map { row -> [String: Any] in
             ["host": row.host, "state": row.state.rawValue, "serving": row.serving?.rawValue as Any,
              "flip_ms": row.flipMs as Any, "detail": Terminal.safe(row.detail)]
         }]
    }

    static func printSwitch(_ outcome: FleetSwitchOutcome, command: String) {
        Terminal.stdout(table(["HOST", "STATE", "SERVING", "FLIP", "DETAIL"], outcome.hosts.map { row in
            [row.host, row.state.rawValue, row.serving?.rawValue ?? "unknown", row.flipMs.map { "\($0) ms" } ?? "-", Terminal.safe(row.detail)]
        }))
        Terminal.stdout("\(command): \(outcome.result.rawValue): \(Terminal.safe(outcome.reason)) (\(Int(outcome.total * 1000)) ms; hosts differed for \(Int(outcome.mixedWindow * 1000)) ms)")
    }

    /// A fleet switch's table (or JSON) and its exit status: 0 switched or unchanged, 1 nothing moved, 13 mixed.
    static func report(_ outcome: FleetSwitchOutcome, command: String, json: Bool) throws {
        if json {
            JSONOutput.print(command, switchJSON(outcome))
        } else {
            printSwitch(outcome, command: command)
        }
        switch outcome.result {
        case .switched, .unchanged: return
        case .aborted, .flippedBack: throw CLIError.exit(ExitStatus.failed)
        case .mixed: throw CLIError.exit(ExitStatus.fleetMixed)
        }
    }

    static func deploy(_ fleet: Fleet, _ request: DeployRequest, lockWait: Double, json: Bool) throws {
        let outcome = fleet.deploy(request, lockWait: lockWait)
        let ok = outcome.result == .promoted || outcome.result == .staged
        if json {
            JSONOutput.print("deploy", [
                "ok": ok, "result": outcome.result.rawValue, "reason": Terminal.safe(outcome.reason), "image": outcome.image,
                "release": outcome.release, "target": outcome.target?.rawValue as Any, "previous": outcome.previous?.rawValue as Any,
                "figures": outcome.figures?.dictionary as Any, "mixed": outcome.mixed, "total_ms": JSONOutput.milliseconds(outcome.total),
                "switch": outcome.switched.map(switchJSON) as Any, "rollback": outcome.rolledBack.map(switchJSON) as Any,
                "hosts": outcome.hosts.map { row -> [String: Any] in
                    ["host": row.host, "figures": row.figures?.dictionary as Any, "failure": row.failure.map(Terminal.safe) as Any]
                },
                "steps": outcome.steps.map { step -> [String: Any] in
                    ["weight": step.percent, "hosts": step.hosts.map { ["host": $0.host, "result": $0.result, "reason": Terminal.safe($0.reason)] }]
                },
            ])
        } else {
            if let switched = outcome.switched { printSwitch(switched, command: "deploy switch") }
            if !outcome.hosts.isEmpty {
                Terminal.stdout(table(["HOST", "ANALYSIS"], outcome.hosts.map { row in
                    [row.host, (row.figures?.summary ?? "no figures") + (row.failure.map { "; FAILED: " + Terminal.safe($0) } ?? "")]
                }))
            }
            for step in outcome.steps {
                for row in step.hosts { Terminal.stdout("  canary \(step.percent)% \(row.host): \(row.result): \(Terminal.safe(row.reason))") }
            }
            if let back = outcome.rolledBack { printSwitch(back, command: "deploy rollback") }
            Terminal.stdout("deploy: \(outcome.result.rawValue) \(outcome.release): \(Terminal.safe(outcome.reason)) (\(Int(outcome.total)) s)")
        }
        if outcome.mixed { throw CLIError.exit(ExitStatus.fleetMixed) }
        switch outcome.result {
        case .promoted, .staged, .planned: return
        case .rolledBack: throw CLIError.exit(ExitStatus.rolledBack)
        case .rollbackFailed: throw CLIError.exit(ExitStatus.rollbackFailed)
        case .beforeSwitchFailed: throw CLIError.exit(ExitStatus.beforeSwitchFailed)
        case .aborted:
            // Nothing switched (a host could not stage or switch) is a plain failure; a signal is 8.
            throw CLIError.exit(StopSignal.requested ? ExitStatus.aborted : ExitStatus.failed)
        }
    }

    static func recover(_ fleet: Fleet, lockWait: Double) throws {
        let (outcome, rows, reason) = fleet.recover(lockWait: lockWait)
        if !rows.isEmpty {
            Terminal.stdout(table(["HOST", "LIVE", "LAST MOVE"], rows.map { [$0.host, $0.live?.rawValue ?? "unknown", $0.since ?? "-"] }))
        }
        if let outcome {
            return try report(outcome, command: "recover", json: false)
        }
        Terminal.stdout("recover: \(Terminal.safe(reason))")
        if rows.isEmpty || rows.contains(where: { $0.live == nil }) { throw CLIError.exit(ExitStatus.fleetMixed) }
    }

    /// Each host's own plan (`--dry-run` in its agent), one host after the other, and how the fleet
    /// sequences them; nothing is changed anywhere.
    static func dryRun(_ fleet: Fleet, _ arguments: [String], note: String) throws {
        let plans = fleet.plans(arguments)
        Terminal.stdout("fleet \(fleet.spec.project): \(note)")
        for plan in plans {
            Terminal.stdout("\(plan.host):")
            for line in plan.lines { Terminal.stdout("  " + Terminal.safe(line)) }
            if let failure = plan.failure { Terminal.stdout("  FAILED: " + Terminal.safe(failure)) }
        }
        if plans.contains(where: { $0.failure != nil }) { throw CLIError.exit(ExitStatus.failed) }
    }

    static func status(_ fleet: Fleet, json: Bool) throws {
        let status = fleet.status()
        if json {
            JSONOutput.print("status", [
                "project": fleet.spec.project, "live": status.live?.rawValue as Any, "overall": status.overall,
                "problems": status.problems.map(Terminal.safe),
                "hosts": status.hosts.map { row -> [String: Any] in
                    ["host": row.host, "live": row.live?.rawValue as Any, "overall": row.overall, "problems": row.problems.map(Terminal.safe),
                     "report": row.report.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as Any]
                },
            ])
        } else {
            Terminal.stdout(table(["HOST", "LIVE", "STATE"], status.hosts.map { [$0.host, $0.live?.rawValue ?? "unknown", $0.overall] }))
            Terminal.stdout("fleet \(fleet.spec.project): \(status.overall)" + (status.live.map { ", every host serves \($0.rawValue)" } ?? ""))
            for problem in status.problems { Terminal.stdout("! " + Terminal.field(problem)) }
        }
        switch status.overall {
        case "healthy": return
        case "not_serving": throw CLIError.exit(ExitStatus.notServing)
        default: throw CLIError.exit(ExitStatus.degraded)
        }
    }

    static func down(_ fleet: Fleet, purge: Bool, json: Bool) throws {
        let rows = fleet.down(purge: purge)
        let failed = rows.filter { $0.failure != nil }
        if json {
            JSONOutput.print("down", ["ok": failed.isEmpty, "purge": purge,
                                      "hosts": rows.map { ["host": $0.host, "ok": $0.failure == nil, "error": $0.failure.map(Terminal.safe) as Any] }])
        } else {
            for row in rows { Terminal.stdout("\(row.host): " + (row.failure.map { "FAILED: " + Terminal.safe($0) } ?? "down")) }
        }
        if !failed.isEmpty { throw CLIError.exit(ExitStatus.failed) }
    }

    /// Columns padded to their widest cell.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in index == row.count - 1 ? cell : cell.padding(toLength: widths[index] + 2, withPad: " ", startingAt: 0) }.joined()
        }.joined(separator: "\n")
    }
}
