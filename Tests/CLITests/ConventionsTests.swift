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

@Suite struct ColourTests {
    static let escape: Character = "\u{1B}"
    /// A failure that bgctl reports itself ("error:" in red when colour is on), with no Docker involved.
    static let failing = ["watch", "--once", "--log", "/nonexistent"]

    static func sandbox() throws -> Sandbox {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        return sandbox
    }

    @Test(arguments: [["--color", "always"] + failing, failing + ["--color", "always"]])
    func colorAlwaysColoursEvenIntoAPipe(_ arguments: [String]) throws {
        let outcome = try Self.sandbox().run(arguments)
        #expect(outcome.status == 1, "\(outcome)")
        #expect(outcome.stderr.contains("\u{1B}[31merror:\u{1B}[0m"), "\(outcome)")
    }

    @Test func colorAlwaysWinsOverNoColor() throws {
        let outcome = try Self.sandbox().run(Self.failing + ["--color", "always"], environment: ["NO_COLOR": "1"])
        #expect(outcome.stderr.contains(Self.escape), "\(outcome)")
    }

    @Test func withoutATerminalAutoIsPlain() throws {
        let outcome = try Self.sandbox().run(Self.failing)
        #expect(outcome.status == 1, "\(outcome)")
        #expect(outcome.stderr.contains("error: cannot read"), "\(outcome)")
        #expect(!outcome.stderr.contains(Self.escape), "\(outcome)")
    }

    @Test func theSubcommandsColorWinsOverTheOneBeforeIt() throws {
        let outcome = try Self.sandbox().run(["--color", "always"] + Self.failing + ["--color", "never"])
        #expect(outcome.status == 1, "\(outcome)")
        #expect(!outcome.stderr.contains(Self.escape), "\(outcome)")
    }

    struct TerminalCase: CustomTestStringConvertible, Sendable {
        var flags: [String]
        var environment: [String: String]
        var coloured: Bool
        var testDescription: String {
            (flags.isEmpty ? "no flag" : flags.joined(separator: " ")) + (environment.isEmpty ? "" : " with \(environment)")
        }
    }

    /// On a terminal `auto` colours, unless NO_COLOR or TERM=dumb; `never` never does, `always` always.
    @Test(.enabled(if: Sandbox.script != nil, "script(1) makes the terminal"), arguments: [
        TerminalCase(flags: [], environment: ["TERM": "xterm"], coloured: true),
        TerminalCase(flags: ["--color", "auto"], environment: ["TERM": "xterm"], coloured: true),
        TerminalCase(flags: ["--color", "never"], environment: ["TERM": "xterm"], coloured: false),
        TerminalCase(flags: [], environment: ["TERM": "xterm", "NO_COLOR": "1"], coloured: false),
        TerminalCase(flags: [], environment: ["TERM": "xterm", "NO_COLOR": ""], coloured: true),
        TerminalCase(flags: [], environment: ["TERM": "dumb"], coloured: false),
        TerminalCase(flags: ["--color", "always"], environment: ["TERM": "dumb"], coloured: true),
    ])
    func onATerminal(_ terminal: TerminalCase) throws {
        let outcome = try Self.sandbox().runOnTerminal(Self.failing + terminal.flags, input: "", environment: terminal.environment)
        #expect(outcome.status == 1, "\(outcome)")
        #expect(outcome.stdout.contains("cannot read"), "\(outcome)")
        #expect(outcome.stdout.contains(Self.escape) == terminal.coloured, "\(outcome)")
    }
}

@Suite struct HelpExampleTests {
    /// The subcommands `bgctl --help` lists, so that a new one is checked without editing this test.
    static func subcommands() throws -> [String] {
        let help = try Sandbox().run(["--help"]).stdout
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(of: "SUBCOMMANDS:") else { return [] }
        return lines[(start + 1)...].prefix { !$0.isEmpty }.compactMap { line in
            // "  validate                Check the spec …"; wrapped abstracts continue further indented.
            guard line.hasPrefix("  "), !line.hasPrefix("   ") else { return nil }
            return line.split(separator: " ").first.map(String.init)
        }
    }

    @Test func helpListsEverySubcommand() throws {
        let names = try Self.subcommands()
        let known = ["validate", "render", "up", "switch", "status", "down", "watch", "maintenance", "deploy",
                     "rollback", "recover", "history", "unlock", "init"]
        #expect(Set(known).isSubset(of: names), "\(names)")
    }

    /// Each subcommand's help has "Examples:" with at least one `bgctl` line, and every long flag an
    /// example uses is one that subcommand takes.
    @Test func everySubcommandsHelpShowsExamplesThatUseItsOwnFlags() throws {
        let subcommands = try Self.subcommands()
        try #require(!subcommands.isEmpty)
        for name in subcommands {
            let outcome = try Sandbox().run([name, "--help"])
            #expect(outcome.status == 0, "\(name): \(outcome)")
            let lines = outcome.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            guard let heading = lines.firstIndex(of: "Examples:") else {
                Issue.record("bgctl \(name) --help has no Examples: section:\n\(outcome.stdout)")
                continue
            }
            let examples = lines[(heading + 1)...].prefix { $0.hasPrefix("  ") }.map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(!examples.isEmpty && examples.allSatisfy { $0.hasPrefix("bgctl ") }, "\(name): \(examples)")
            #expect(examples.contains { $0.split(separator: " ").contains(Substring(name)) }, "\(name): \(examples)")
            let usage = lines.filter { $0.hasPrefix("USAGE:") || $0.hasPrefix("  -") }.joined(separator: "\n")
            for example in examples {
                for flag in example.split(separator: " ").filter({ $0.hasPrefix("--") }) {
                    let bare = flag.split(separator: "=").first.map(String.init) ?? String(flag)
                    #expect(usage.contains(bare + " ") || usage.contains(bare + "]") || usage.contains(bare + "\n"),
                            "bgctl \(name): the example \"\(example)\" uses \(bare), which the command does not take")
                }
            }
            #expect(outcome.stdout.contains("--color <WHEN>"), "bgctl \(name) --help does not list --color")
        }
    }
}

@Suite struct CompletionTests {
    static let bash = "/bin/bash"

    /// The names bash's completion for bgctl offers for the last word of `words`, run in a folder with
    /// a spec, a log, a text file and a folder.
    static func complete(_ words: [String]) throws -> [String] {
        let sandbox = try Sandbox()
        let generated = try sandbox.run(["--generate-completion-script", "bash"])
        #expect(generated.status == 0, "\(generated)")
        let script = try sandbox.write(generated.stdout, to: "bgctl.bash")
        for name in ["spec.yaml", "access.log", "notes.txt"] {
            _ = try sandbox.write("", to: "work/\(name)")
        }
        try FileManager.default.createDirectory(at: sandbox.work.appendingPathComponent("folder"), withIntermediateDirectories: true)
        // What bash does on TAB: COMP_* describe the line, the function fills COMPREPLY.
        let driver = """
            source "$1"; shift
            COMP_WORDS=(bgctl "$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
            COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
            _bgctl bgctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: bash)
        process.arguments = ["-c", driver, "complete", script] + words
        process.currentDirectoryURL = sandbox.work
        process.environment = ["PATH": sandbox.bin.path, "HOME": sandbox.root.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init).sorted()
    }

    struct PathOption: CustomTestStringConvertible, Sendable {
        var words: [String]
        var offers: [String]
        var testDescription: String { "bgctl " + words.dropLast().joined(separator: " ") }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: bash), "bash runs the generated script"), arguments: [
        // The spec: YAML files and folders to descend into.
        PathOption(words: ["-f", ""], offers: ["folder", "spec.yaml"]),
        PathOption(words: ["validate", "-f", ""], offers: ["folder", "spec.yaml"]),
        PathOption(words: ["switch", "--file", ""], offers: ["folder", "spec.yaml"]),
        // Any file.
        PathOption(words: ["watch", "--log", ""], offers: ["access.log", "folder", "notes.txt", "spec.yaml"]),
        // Folders only.
        PathOption(words: ["render", "--out", ""], offers: ["folder"]),
        PathOption(words: ["watch", "--watcher-dir", ""], offers: ["folder"]),
    ])
    func bashCompletesPathsForOptionsThatTakeOne(_ option: PathOption) throws {
        #expect(try Self.complete(option.words) == option.offers)
    }

    @Test func zshAndFishCompleteTheSamePaths() throws {
        let sandbox = try Sandbox()
        func line(_ text: String, _ marker: String) -> String {
            text.split(separator: "\n").first { $0.contains(marker) }.map(String.init) ?? "no line with \(marker)"
        }
        let zsh = try sandbox.run(["--generate-completion-script", "zsh"])
        #expect(zsh.status == 0, "\(zsh)")
        #expect(line(zsh.stdout, "'--log[").hasSuffix(":FILE:_files'"))
        #expect(line(zsh.stdout, "'--out[").hasSuffix(":DIR:_files -/'"))
        #expect(line(zsh.stdout, "'--watcher-dir[").hasSuffix(":DIR:_files -/'"))
        #expect(line(zsh.stdout, "{-f,--file}").hasSuffix(#":FILE:_files -g '\''*.yaml *.yml'\'''"#))
        let fish = try sandbox.run(["--generate-completion-script", "fish"])
        #expect(fish.status == 0, "\(fish)")
        #expect(line(fish.stdout, "-l 'log'").hasSuffix(" -rF"))
        #expect(line(fish.stdout, "-l 'out'").hasSuffix("(__bgctl_complete_directories)'"))
        #expect(line(fish.stdout, "-l 'watcher-dir'").hasSuffix("(__bgctl_complete_directories)'"))
        #expect(line(fish.stdout, "-l 'file'").contains(#"set -l exts \'yaml\' \'yml\'"#))
    }
}
