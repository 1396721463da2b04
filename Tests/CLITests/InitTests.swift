import Foundation
import Testing

/// `bgctl init` writes a spec that validates as written, and never overwrites one.
@Suite struct InitTests {
    @Test func theWrittenSpecValidatesAsWritten() throws {
        let sandbox = try Sandbox()
        let init_ = try sandbox.run(["-f", "new.yaml", "init", "--image", "registry.example.com/shop:1.4", "--port", "8000",
                                     "--health", "/ready", "--project", "shop"])
        #expect(init_.status == 0, "\(init_)")
        let validate = try sandbox.run(["-f", "new.yaml", "validate"])
        #expect(validate.status == 0 && validate.stdout.contains("project shop"), "\(validate)")
        let rendered = try sandbox.run(["-f", "new.yaml", "render"])
        #expect(rendered.stdout.contains("location = /_bgctl/health") && rendered.stdout.contains(":8000"), "\(rendered)")
    }

    @Test func anExistingSpecIsNeverOverwritten() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let before = try sandbox.run(["render"]).stdout
        let outcome = try sandbox.run(["init", "--image", "other:2"])
        #expect(outcome.status == 1 && outcome.stderr.contains("never overwrites"), "\(outcome)")
        #expect(try sandbox.run(["render"]).stdout == before)
    }

    @Test(arguments: [["--image", "UPPER CASE"], ["--port", "0"], ["--port", "65536"], ["--health", "no-slash"], ["--project", "-bad"]])
    func aBadFlagIsAUsageError(_ flags: [String]) throws {
        let sandbox = try Sandbox()
        let outcome = try sandbox.run(["-f", "new.yaml", "init"] + flags)
        #expect(outcome.status == 64, "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.work.appendingPathComponent("new.yaml").path))
    }
}
