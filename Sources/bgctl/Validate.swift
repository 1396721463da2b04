import ArgumentParser
import NginxConfigGen

extension Bgctl {
    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the spec and report every problem at once (exit 65 when invalid).")

        @OptionGroup var spec: SpecOptions
        @Flag(help: "Print nothing on success.") var quiet = false
        @Flag(help: "Print the result as one JSON object (schema 1; problems with file, line, column, path, message).") var json = false

        func run() throws {
            try reporting(json: json ? "validate" : nil) {
                var (loaded, warnings) = try spec.loadCollecting()
                _ = try spec.checkedTLS(loaded, warnings: &warnings)
                if json {
                    JSONOutput.print("validate", ["ok": true, "file": spec.path, "project": loaded.project, "active": loaded.active.rawValue,
                                                  "warnings": warnings.map(JSONOutput.issue)])
                    return
                }
                if !quiet {
                    Terminal.stdout("\(spec.path): ok (project \(loaded.project), live pool \(loaded.active.rawValue))")
                }
            }
        }
    }
}
