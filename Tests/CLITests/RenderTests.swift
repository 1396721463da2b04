import Foundation
import Testing

@Suite struct RenderTests {
    @Test func renderPrintsBothFiles() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let outcome = try sandbox.run(["render"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout.contains("nginx.conf"), "\(outcome)")
        #expect(outcome.stdout.contains("bgctl.conf"), "\(outcome)")
        #expect(outcome.stdout.contains("upstream"), "\(outcome)")
    }

    @Test func renderOutWritesBothFilesIntoTheFolder() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let out = sandbox.root.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let outcome = try sandbox.run(["render", "--out", out.path])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout.isEmpty, "\(outcome)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() == ["bgctl.conf", "nginx.conf"])
        let conf = try String(contentsOf: out.appendingPathComponent("bgctl.conf"), encoding: .utf8)
        #expect(conf.contains("upstream"))
    }

    enum Unwritable: String, CaseIterable, Sendable {
        /// --out names an existing regular file.
        case existingFile
        /// --out names a folder beneath a regular file, which cannot exist.
        case beneathAFile
    }

    @Test(arguments: Unwritable.allCases)
    func renderOutOntoAPathThatCannotBeAFolderExits1WithOneLine(_ target: Unwritable) throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let file = try sandbox.write("not a folder\n", to: "file")
        let out = target == .existingFile ? file : file + "/sub"
        let outcome = try sandbox.run(["render", "--out", out])
        #expect(outcome.status == 1, "\(outcome)")
        let message = outcome.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(message.hasPrefix("error: cannot write"), "\(outcome)")
        #expect(!message.contains("\n"), "\(outcome)")
        #expect(message.contains(file), "\(outcome)")
        expectOwnMessage(outcome)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "not a folder\n")
    }
}
