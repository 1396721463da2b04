import ArgumentParser
import Foundation
import NginxConfigGen
import Orchestrator

extension Bgctl {
    struct Maintenance: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Turn maintenance mode on or off: alerts are still logged but not sent. A running watcher picks it up.")

        enum Mode: String, ExpressibleByArgument, CaseIterable {
            case on, off, status
        }

        @Argument(help: "on, off, or status.") var mode: Mode = .status
        @Option(help: "Why; recorded in the history.") var reason: String?
        @OptionGroup var spec: SpecOptions

        func run() throws {
            try reporting {
                let loaded = try spec.load()
                let paths = StackPaths(spec: loaded, specDirectory: spec.directory)
                if mode == .status {
                    let on = (FileManager.default.contents(atPath: paths.maintenanceFile)
                        .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }?["maintenance"] as? Bool) ?? loaded.watch.maintenance
                    Terminal.stdout("maintenance: \(on ? "on" : "off")")
                    return
                }
                let environment = ProcessInfo.processInfo.environment
                let on = mode == .on
                let object: [String: Any] = ["maintenance": on, "by": StateStore.who(environment: environment), "at": Clock.system.timestamp(),
                                             "reason": reason ?? ""]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                try AtomicWriter.write(String(decoding: data, as: UTF8.self) + "\n", to: paths.maintenanceFile)
                try StateStore(paths: paths).append(HistoryEntry(time: Clock.system.timestamp(), action: "maintenance", from: nil, to: nil,
                                                   who: StateStore.who(environment: environment), reason: reason,
                                                   result: on ? "on" : "off", durationMs: nil, detail: nil))
                Terminal.stdout("maintenance: \(on ? "on — alerts are logged, not sent" : "off — alerts are sent")")
            }
        }
    }
}
