import Foundation
import Testing

/// `down --purge` deletes logs and history: a person confirms it on a terminal, a script says --yes.
@Suite struct PurgeTests {
    /// A sandbox whose state folder holds a log and a history, and whose engine has nothing of the project.
    static func sandbox() throws -> Sandbox {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try sandbox.installFakeDocker(.emptyEngine)
        let logs = URL(fileURLWithPath: sandbox.stateDirectory).appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        try "{}\n".write(to: logs.appendingPathComponent("access.log"), atomically: true, encoding: .utf8)
        try "{}\n".write(toFile: sandbox.stateDirectory + "/history.jsonl", atomically: true, encoding: .utf8)
        return sandbox
    }

    static func stateRemains(_ sandbox: Sandbox) -> Bool {
        FileManager.default.fileExists(atPath: sandbox.stateDirectory + "/history.jsonl")
            && FileManager.default.fileExists(atPath: sandbox.stateDirectory + "/logs/access.log")
    }

    @Test func withoutATerminalPurgeWithoutYesExits64AndTouchesNothing() throws {
        let sandbox = try Self.sandbox()
        let outcome = try sandbox.run(["down", "--purge"])
        #expect(outcome.status == 64, "\(outcome)")
        #expect(outcome.stderr.contains("add --yes"), "\(outcome)")
        #expect(outcome.stdout.isEmpty, "\(outcome)")
        #expect(Self.stateRemains(sandbox))
        #expect(sandbox.dockerCalls().isEmpty, "a usage error is found before Docker is asked: \(sandbox.dockerCalls())")
    }

    @Test(arguments: [["down", "--purge", "--yes"], ["down", "--purge", "-y"]])
    func withoutATerminalPurgeWithYesRemovesTheStateFolder(_ arguments: [String]) throws {
        let sandbox = try Self.sandbox()
        let outcome = try sandbox.run(arguments)
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout.contains("down: removed \(sandbox.stateDirectory)"), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.stateDirectory), "\(outcome)")
    }

    @Test func aDryRunOfPurgeNeedsNoYesAndRemovesNothing() throws {
        let sandbox = try Self.sandbox()
        let outcome = try sandbox.run(["down", "--purge", "--dry-run"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout.contains("purge: delete what bgctl wrote"), "\(outcome)")
        #expect(!outcome.stderr.contains("[y/N]"), "\(outcome)")
        #expect(Self.stateRemains(sandbox))
    }

    @Test func downWithoutPurgeAsksNothingAndKeepsLogsAndHistory() throws {
        let sandbox = try Self.sandbox()
        let outcome = try sandbox.run(["down"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(Self.stateRemains(sandbox))
    }

    struct Answer: CustomTestStringConvertible, Sendable {
        var typed: String
        var removes: Bool
        var testDescription: String { typed.isEmpty ? "end of input" : "answer \(typed.debugDescription)" }
    }

    @Test(.enabled(if: Sandbox.script != nil, "script(1) makes the terminal"), arguments: [
        Answer(typed: "y\n", removes: true), Answer(typed: "yes\n", removes: true), Answer(typed: "YES\n", removes: true),
        Answer(typed: "n\n", removes: false), Answer(typed: "\n", removes: false), Answer(typed: "yep\n", removes: false),
        Answer(typed: "", removes: false),
    ])
    func onATerminalPurgeAsksAndGoesOnOnlyForYes(_ answer: Answer) throws {
        let sandbox = try Self.sandbox()
        let outcome = try sandbox.runOnTerminal(["down", "--purge"], input: answer.typed)
        #expect(outcome.stdout.contains("down --purge: remove"), "\(outcome)")
        #expect(outcome.stdout.contains("\(sandbox.stateDirectory)? [y/N]"), "\(outcome)")
        if answer.removes {
            #expect(outcome.status == 0, "\(outcome)")
            #expect(!FileManager.default.fileExists(atPath: sandbox.stateDirectory), "\(outcome)")
        } else {
            #expect(outcome.status == 1, "\(outcome)")
            #expect(outcome.stdout.contains("not confirmed; nothing was removed"), "\(outcome)")
            #expect(Self.stateRemains(sandbox))
            #expect(sandbox.dockerCalls().isEmpty, "\(sandbox.dockerCalls())")
        }
    }

    @Test(.enabled(if: Sandbox.script != nil, "script(1) makes the terminal"))
    func onATerminalYesSkipsTheQuestion() throws {
        let sandbox = try Self.sandbox()
        let outcome = try sandbox.runOnTerminal(["down", "--purge", "--yes"], input: "")
        #expect(outcome.status == 0, "\(outcome)")
        #expect(!outcome.stdout.contains("[y/N]"), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.stateDirectory), "\(outcome)")
    }
}
