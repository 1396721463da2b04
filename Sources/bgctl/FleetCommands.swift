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
        let outcome = fleet.switchTo(pool, force: force, lockWait: lockWait)
        if json {
            JSONOutput.print("switch", [
                "ok": outcome.result == .switched || outcome.result == .unchanged, "result": outcome.result.rawValue, "to": pool.rawValue,
                "reason": Terminal.safe(outcome.reason), "mixed_window_ms": JSONOutput.milliseconds(outcome.mixedWindow),
                "total_ms": JSONOutput.milliseconds(outcome.total),
                "hosts": outcome.hosts.map { row -> [String: Any] in
                    ["host": row.host, "state": row.state.rawValue, "serving": row.serving?.rawValue as Any,
                     "flip_ms": row.flipMs as Any, "detail": Terminal.safe(row.detail)]
                },
            ])
        } else {
            Terminal.stdout(table(["HOST", "STATE", "SERVING", "FLIP", "DETAIL"], outcome.hosts.map { row in
                [row.host, row.state.rawValue, row.serving?.rawValue ?? "unknown", row.flipMs.map { "\($0) ms" } ?? "-", Terminal.safe(row.detail)]
            }))
            Terminal.stdout("switch: \(outcome.result.rawValue): \(Terminal.safe(outcome.reason)) (\(Int(outcome.total * 1000)) ms; hosts differed for \(Int(outcome.mixedWindow * 1000)) ms)")
        }
        switch outcome.result {
        case .switched, .unchanged: return
        case .aborted, .flippedBack: throw CLIError.exit(ExitStatus.failed)
        case .mixed: throw CLIError.exit(ExitStatus.fleetMixed)
        }
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
