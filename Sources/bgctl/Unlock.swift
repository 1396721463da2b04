import ArgumentParser
import Foundation
import NginxConfigGen
import Orchestrator

extension Bgctl {
    struct Unlock: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Break the stack's lock (for a person: when a holder hangs). A dead holder's lock is recovered automatically.",
            discussion: """
            Examples:
              bgctl unlock
              bgctl -f /srv/shop/bgctl.yaml unlock
            """)

        @OptionGroup var spec: SpecOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            try reporting {
                let loaded = try spec.load()
                let paths = StackPaths(spec: loaded, specDirectory: spec.directory)
                if let holder = StackLock.breakLock(paths) {
                    Terminal.stdout("unlock: broke the lock held by \(Terminal.field(holder.description))")
                } else {
                    Terminal.stdout("unlock: no lock was held")
                }
            }
        }
    }
}
