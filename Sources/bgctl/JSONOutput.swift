import Foundation
import NginxConfigGen
import Orchestrator

/// `--json` results: one object on stdout with `"schema": 1` (documented in the README). Keys are
/// snake_case; a value that is not known is `null`, never left out.
enum JSONOutput {
    static let schema = 1

    static func print(_ command: String, _ fields: [String: Any?]) {
        var object: [String: Any] = ["schema": schema, "command": command]
        for (key, value) in fields { object[key] = value ?? NSNull() }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        Terminal.json(String(decoding: data, as: UTF8.self))
    }

    /// The object a failed `--json` command prints: what went wrong, and the exit status.
    static func error(_ command: String, status: Int32, message: String?, problems: [SpecIssue] = [], omitted: Int = 0) {
        var error: [String: Any] = ["status": Int(status), "message": message.map(Terminal.safe) ?? NSNull()]
        if !problems.isEmpty {
            error["problems"] = problems.map(issue)
            error["omitted"] = omitted
        }
        print(command, ["ok": false, "error": error])
    }

    static func issue(_ issue: SpecIssue) -> [String: Any] {
        ["file": issue.file, "line": issue.line, "column": issue.column, "path": issue.path, "message": issue.message]
    }

    static func steps(_ plan: Plan) -> [[String: Any]] {
        plan.names.map { ["name": $0] }
    }

    static func timings(_ timings: [(String, Double)]) -> [[String: Any]] {
        timings.map { ["name": $0.0, "ms": Int(($0.1 * 1000).rounded())] }
    }

    static func milliseconds(_ seconds: Double) -> Int { Int((seconds * 1000).rounded()) }
}
