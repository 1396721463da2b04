import ArgumentParser
import Foundation
import NginxConfigGen
import Orchestrator

extension Bgctl {
    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what bgctl changed: up, switch, deploy, rollback, maintenance (--json: the JSONL audit log).",
            discussion: """
            Examples:
              bgctl history --limit 20
              bgctl history --json
            """)

        @Flag(help: "Print the entries as JSON lines.") var json = false
        @Option(help: "Show only the last N entries.") var limit: Int?
        @OptionGroup var spec: SpecOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            try reporting {
                let loaded = try spec.load()
                let paths = StackPaths(spec: loaded, specDirectory: spec.directory)
                var entries = StateStore(paths: paths).history()
                if let limit {
                    guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
                    entries = Array(entries.suffix(limit))
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                for entry in entries {
                    if json {
                        Terminal.json(String(decoding: try encoder.encode(entry), as: UTF8.self))
                    } else {
                        let (time, action, result) = (Terminal.field(entry.time), Terminal.field(entry.action), Terminal.field(entry.result))
                        var line = "\(time)  \(action.padding(toLength: 11, withPad: " ", startingAt: 0)) \(result.padding(toLength: 15, withPad: " ", startingAt: 0))"
                        if let from = entry.from, let to = entry.to { line += " \(from.rawValue) → \(to.rawValue)" } else if let to = entry.to { line += " \(to.rawValue)" }
                        if let release = entry.release { line += "  \(Terminal.field(release))" }
                        if entry.action == "canary", let weight = entry.figures?["weight"] { line += "  at \(Int(weight))%" }
                        line += "  by \(Terminal.field(entry.who))"
                        if let reason = entry.reason, !reason.isEmpty { line += "  (\(Terminal.field(reason)))" }
                        Terminal.stdout(line)
                    }
                }
            }
        }
    }
}
