import Foundation
import Testing

/// `--version`, `--color`, help examples and shell completions: what a person expects of any CLI.
@Suite struct VersionTests {
    @Test func versionNamesTheVersionAndTheCommitItWasBuiltFrom() throws {
        let outcome = try Sandbox().run(["--version"])
        #expect(outcome.status == 0, "\(outcome)")
        let line = outcome.stdout.trimmingCharacters(in: .newlines)
        // "commit unknown" from a plain `swift build`; 12 hex digits (and -dirty) from make.
        let shape = /bgctl \d+\.\d+\.\d+ \(commit (?:[0-9a-f]{12}(?:-dirty)?|unknown)(?:, built \d{4}-\d{2}-\d{2})?\)/
        #expect(line.wholeMatch(of: shape) != nil, "\(outcome)")
    }
}
