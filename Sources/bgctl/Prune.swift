import ArgumentParser
import Foundation
import Orchestrator

extension Bgctl {
    struct Prune: ParsableCommand, PlanningCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove the images of releases older than the last N in the history (never a pool's image).",
            discussion: """
            Only images bgctl's history records as a deployed release are candidates. The images the live and the
            idle pool's containers run, or are set to run, are never removed; an image another container uses is
            refused by docker (never forced), reported, and left. Exit status: 0 done (also with nothing to remove
            or with refusals), 8 stopped by a signal between two removals, 64 usage error, 69 Docker unavailable.

            Examples:
              bgctl prune --dry-run
              bgctl prune --keep 5
              bgctl prune --keep 1 --json
            """)

        @Option(help: ArgumentHelp("How many of the most recent releases keep their image (0 or more).", valueName: "N"))
        var keep: Int = 3
        @Flag(help: "Print what would be removed and change nothing.") var dryRun = false
        @Flag(help: "Print the result as one JSON object (schema 1, see the README).") var json = false
        @OptionGroup var options: StackOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            mode.begin()
            try reporting(json: json ? "prune" : nil) {
                guard (0...10_000).contains(keep) else {
                    throw ValidationError("--keep: expected a number of releases from 0 to 10000, found \(keep)")
                }
                let stack = try options.stack(mode)
                let outcome = try stack.prune(keep: keep, lockWait: options.lockWaitSeconds())
                if json { return printJSON(outcome) }
                printText(outcome)
            }
        }

        private func printJSON(_ outcome: PruneOutcome) {
            let planned = outcome.plan.steps.compactMap { step -> [String: Any]? in
                guard case .removeImage(let image, let bytes) = step.action else { return nil }
                let releases = outcome.selection.candidates.first { $0.image == image }?.releases ?? []
                return ["image": image, "releases": releases, "bytes": bytes.map { NSNumber(value: $0) } ?? NSNull()]
            }
            let removals = outcome.removals.map { removal -> [String: Any] in
                ["image": removal.image, "result": removal.result.rawValue,
                 "bytes": removal.bytes.map { NSNumber(value: $0) } ?? NSNull(), "detail": removal.detail.map(Terminal.safe) ?? NSNull()]
            }
            JSONOutput.print("prune", [
                "ok": true, "dry_run": dryRun, "keep": keep,
                "kept": outcome.selection.kept.map { ["release": $0.release, "image": $0.image, "reason": $0.reason] },
                "planned": planned, "removals": removals, "absent": outcome.absent,
                "freed_bytes": dryRun ? nil : NSNumber(value: outcome.freed),
            ])
        }

        private func printText(_ outcome: PruneOutcome) {
            if dryRun { return }  // the plan was printed
            let removed = outcome.removals.filter { $0.result == .removed }
            let untagged = outcome.removals.filter { $0.result == .untagged }
            let refused = outcome.removals.filter { $0.result == .refused }
            if outcome.removals.isEmpty {
                Terminal.stdout("prune: nothing to remove (\(outcome.plan.nothingToDo ?? "no candidates")); kept \(outcome.selection.kept.count) release(s)")
                return
            }
            for removal in removed {
                Terminal.stdout("removed \(Terminal.safe(removal.image))\(removal.bytes.map { " (\(ByteCount.text($0)))" } ?? "")")
            }
            for removal in untagged { Terminal.stdout("untagged \(Terminal.safe(removal.image)) (other tags still name the image)") }
            for removal in refused { Terminal.stdout("left \(Terminal.safe(removal.image)): docker refused (\(Terminal.safe(removal.detail ?? "")))") }
            let unknown = removed.filter { $0.bytes == nil }.count
            Terminal.stdout("prune: \(removed.count) image(s) removed, \(refused.count) refused; up to \(ByteCount.text(outcome.freed)) freed"
                            + (unknown > 0 ? " (size unknown for \(unknown))" : "") + " (layers another image shares stay)")
        }
    }
}
