import ArgumentParser
import NginxConfigGen

extension Bgctl {
    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the spec and report every problem at once (exit 65 when invalid).")

        @OptionGroup var spec: SpecOptions
        @Flag(help: "Print nothing on success.") var quiet = false

        func run() throws {
            try reporting {
                let loaded = try spec.load()
                if !quiet {
                    Terminal.stdout("\(spec.path): ok (project \(loaded.project), live pool \(loaded.active.rawValue))")
                }
            }
        }
    }
}
