import ArgumentParser
import Foundation
import NginxConfigGen
import Orchestrator
import Watcher

extension Bgctl {
    struct Events: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Follow the Docker engine's events for a project's containers into DIR/events.jsonl (how the stack's events container runs).",
            discussion: """
            Asks the engine's GET /events over its unix socket for the project's containers (die, oom,
            health_status, start, restart, kill, destroy) and appends one checked JSON line per event to
            DIR/events.jsonl, renamed to events.jsonl.1 past 1 MiB. The stack's watcher tails that file
            and alerts (watch --events). When the stream ends or fails (dockerd restarted) it asks again
            with backoff (0.2 s doubling to 5 s) from the last event's time. Runs until SIGTERM or SIGINT.

            Examples:
              bgctl events --project shop --out .bgctl/events
            """)

        @OptionGroup var output: OutputOptions
        @Option(help: ArgumentHelp("The project whose containers to follow (the io.bgctl.project label).", valueName: "NAME"))
        var project: String
        @Option(help: ArgumentHelp("The engine's unix socket.", valueName: "PATH"), completion: .file())
        var socket = "/var/run/docker.sock"
        @Option(help: ArgumentHelp("The folder to write events.jsonl in.", valueName: "DIR"), completion: .directory)
        var out: String

        func validate() throws {
            guard Syntax.isProjectNameValue(project) else {
                throw ValidationError("--project: expected lowercase letters, digits, \"_\" or \"-\" starting with a letter or digit (at most 40), found \"\(SafeText.terminal(project))\"")
            }
            for (flag, value) in [("--socket", socket), ("--out", out)] {
                guard let bad = value.unicodeScalars.first(where: SafeText.isHidden) else { continue }
                throw ValidationError("\(flag): the path contains the control character U+\(String(format: "%04X", bad.value)); give the path without it")
            }
        }

        func run() throws {
            try reporting {
                StopSignal.install(hangup: false)
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                let log = EventLog(folder: out)
                let say: (String) -> Void = { Terminal.stderr("events: " + SafeText.terminal($0)) }
                var failedWrites = 0
                let follower = EventFollower(
                    project: project, socket: socket,
                    clock: { Int64(Date().timeIntervalSince1970 * 1e9) },
                    pause: Self.pause, stop: { StopSignal.requested },
                    deliver: { event in
                        do {
                            try log.append(event)
                            failedWrites = 0
                        } catch {
                            // One message per run of failures, not per event.
                            if failedWrites == 0 { say("\(error); the event is lost, later ones are tried again") }
                            failedWrites += 1
                        }
                    },
                    say: say)
                say("following the engine's events for \(project)'s containers on \(socket) into \(log.path)")
                follower.run()
                say("stopped: \(follower.delivered) events written, \(follower.dropped) dropped, \(follower.connections) connection(s)")
            }
        }

        /// Waits in short steps: false at once when SIGTERM or SIGINT came.
        static func pause(_ seconds: Double) -> Bool {
            let end = Date().addingTimeInterval(seconds)
            while Date() < end {
                if StopSignal.requested { return false }
                usleep(UInt32(min(50_000, max(1_000, end.timeIntervalSinceNow * 1e6))))
            }
            return !StopSignal.requested
        }
    }
}
