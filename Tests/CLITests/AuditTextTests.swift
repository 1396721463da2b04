import Foundation
import Testing

/// Text from the audit trail (a `--reason` from a pull request's title, USER, a lock holder) reaches
/// the terminal with every control shown escaped: it cannot erase, forge or reorder lines.
@Suite struct AuditTextTests {
    /// One history entry whose reason and author hold `hostile`.
    func history(_ sandbox: Sandbox, reason: String, who: String = "ci") throws {
        try FileManager.default.createDirectory(atPath: sandbox.stateDirectory, withIntermediateDirectories: true)
        let entry: [String: Any] = ["action": "switch", "from": "blue", "to": "green", "result": "ok", "time": "2026-11-27T10:00:00Z",
                                    "who": who, "reason": reason]
        let data = try JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys])
        try (String(decoding: data, as: UTF8.self) + "\n").write(toFile: sandbox.stateDirectory + "/history.jsonl", atomically: true, encoding: .utf8)
    }

    @Test(arguments: [
        ("\u{1B}[2K\u{1B}[1Aforged", #"\x1b[2K\x1b[1Aforged"#),
        ("a\nforged line", #"a\nforged line"#),
        ("a\rforged", #"a\rforged"#),
        ("\u{07}bell", #"\x07bell"#),
        ("\u{9B}31m", #"\x9b31m"#),
        ("fix \u{202E}txt.exe", #"fix \u{202e}txt.exe"#),
        ("fix \u{2066}x", #"fix \u{2066}x"#),
        ("zero\u{200B}width", #"zero\u{200b}width"#),
        ("tag\u{E0041}", #"tag\u{e0041}"#),
    ])
    func aReasonIsPrintedWithItsControlsEscaped(_ reason: String, _ shown: String) throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try history(sandbox, reason: reason)
        let outcome = try sandbox.run(["history"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout.contains("(\(shown))"), "\(outcome)")
        #expect(outcome.stdout.split(separator: "\n").count == 1, "\(outcome)")
        #expect(!outcome.stdout.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x202E || $0.value == 0x9B })
    }

    @Test func theAuthorIsPrintedWithItsControlsEscaped() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try history(sandbox, reason: "ok", who: "mallory\u{1B}]0;title\u{07}")
        let outcome = try sandbox.run(["history"])
        #expect(outcome.stdout.contains(#"by mallory\x1b]0;title\x07"#), "\(outcome)")
    }

    @Test func historyAsJSONEscapesBidiControlsTheJSONWay() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try history(sandbox, reason: "fix \u{202E}txt")
        let outcome = try sandbox.run(["history", "--json"])
        #expect(outcome.stdout.contains(#""reason":"fix \u202etxt""#), "\(outcome)")
        let object = try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any]
        #expect(object?["reason"] as? String == "fix \u{202E}txt")
    }

    @Test func unlockPrintsTheHolderWithItsControlsEscaped() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try FileManager.default.createDirectory(atPath: sandbox.stateDirectory, withIntermediateDirectories: true)
        try #"{"pid":1,"who":"eve\u001b[2K","command":"deploy\u202e","since":"t"}"#.write(toFile: sandbox.stateDirectory + "/lock.json", atomically: true, encoding: .utf8)
        let outcome = try sandbox.run(["unlock"])
        #expect(outcome.stdout.contains(#"deploy\u{202e} by eve\x1b[2K (pid 1)"#), "\(outcome)")
    }
}
