import ArgumentParser
import Foundation
import NginxConfigGen
import Orchestrator

extension Bgctl {
    struct Maintenance: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Turn maintenance mode on or off: alerts are still logged but not sent. A running watcher picks it up.",
            discussion: """
            Examples:
              bgctl maintenance on --reason "db migration"
              bgctl maintenance off
              bgctl maintenance status
            """)

        enum Mode: String, ExpressibleByArgument, CaseIterable {
            case on, off, status
        }

        @Argument(help: "on, off, or status.") var mode: Mode = .status
        @Option(help: "Why; recorded in the history.") var reason: String?
        @OptionGroup var spec: SpecOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            try reporting {
                let loaded = try spec.load()
                let paths = StackPaths(spec: loaded, specDirectory: spec.directory)
                if mode == .status {
                    Terminal.stdout("maintenance: \(MaintenanceMode.isOn(paths, spec: loaded) ? "on" : "off")")
                    return
                }
                let on = mode == .on
                try MaintenanceMode.set(on, reason: reason, paths: paths, who: StateStore.who(environment: ProcessInfo.processInfo.environment))
                Terminal.stdout("maintenance: \(on ? "on — alerts are logged, not sent" : "off — alerts are sent")")
            }
        }
    }
}
