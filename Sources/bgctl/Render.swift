import ArgumentParser
import Foundation
import NginxConfigGen

extension Bgctl {
    struct Render: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the nginx configuration bgctl generates, or write it into a folder atomically.")

        @OptionGroup var spec: SpecOptions
        @Option(help: "Render with this pool live instead of the spec's `active`.") var active: Pool?
        @Option(help: ArgumentHelp("Write the files into DIR (temp file + rename) instead of printing.", valueName: "DIR"))
        var out: String?

        func run() throws {
            try reporting {
                var (loaded, warnings) = try spec.loadCollecting()
                let tls = try spec.checkedTLS(loaded, warnings: &warnings)
                let config = try spec.renderer(for: loaded).render(loaded, live: active ?? loaded.active, tlsFingerprint: tls?.fingerprint)
                if let out {
                    do {
                        try AtomicWriter.write(config, into: out)
                    } catch let error as WriteError {
                        throw error
                    } catch {
                        throw CLIError.failed("cannot write into \(out): \((error as NSError).localizedDescription)")
                    }
                    Terminal.stderr("wrote \(config.files.keys.sorted().joined(separator: ", ")) to \(out)")
                } else {
                    print(config.listing, terminator: "")
                }
            }
        }
    }
}

extension Pool: ExpressibleByArgument {}
