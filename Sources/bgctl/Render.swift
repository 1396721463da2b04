import ArgumentParser
import Foundation
import NginxConfigGen

extension Bgctl {
    struct Render: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the nginx configuration bgctl generates, or write it into a folder atomically.",
            discussion: """
            Examples:
              bgctl render
              bgctl render --out /tmp/nginx-preview
            """)

        @OptionGroup var spec: SpecOptions
        @OptionGroup var output: OutputOptions
        @Option(help: ArgumentHelp("Accepted for scripts written for bgctl 0.2; ignored: the configuration is the same whichever pool is live (the route in nginx/route/ decides).",
                                   visibility: .hidden)) var active: Pool?
        @Option(help: ArgumentHelp("Write the files into DIR (temp file + rename) instead of printing.", valueName: "DIR"),
                completion: .directory)
        var out: String?

        func run() throws {
            try reporting {
                var (loaded, warnings) = try spec.loadCollecting()
                let tls = try spec.checkedTLS(loaded, warnings: &warnings)
                if active != nil {
                    Terminal.stderr("warning: --active is ignored: the configuration is the same whichever pool is live; the route in nginx/route/ decides")
                }
                let config = try spec.renderer(for: loaded).render(loaded, tlsFingerprint: tls?.fingerprint)
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
