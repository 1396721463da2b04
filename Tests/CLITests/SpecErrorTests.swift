import Foundation
import Testing

@Suite struct SpecErrorTests {
    @Test func anUnknownKeyExits65WithItsLineColumnAndKeyPath() throws {
        let sandbox = try Sandbox()
        var lines = MinimalSpec.lines(stateDirectory: sandbox.stateDirectory)
        let index = try #require(lines.firstIndex(of: "  read_timeout: 3s"))
        lines.insert("  read_timout: 3s", at: index + 1)
        try sandbox.writeSpec(lines.joined(separator: "\n") + "\n")
        let outcome = try sandbox.run(["validate"])
        #expect(outcome.status == 65, "\(outcome)")
        #expect(outcome.stderr.contains("bgctl.yaml:\(index + 2):3:"), "\(outcome)")
        #expect(outcome.stderr.contains("proxy.read_timout"), "\(outcome)")
        #expect(outcome.stdout.isEmpty, "\(outcome)")
        expectOwnMessage(outcome)
    }

    @Test func aYAMLSyntaxErrorExits65WithItsLine() throws {
        let sandbox = try Sandbox()
        var lines = MinimalSpec.lines(stateDirectory: sandbox.stateDirectory)
        let index = try #require(lines.firstIndex(of: "  ignore_paths: [/healthz]"))
        lines[index] = "  ignore_paths: [/healthz"
        try sandbox.writeSpec(lines.joined(separator: "\n") + "\n")
        let outcome = try sandbox.run(["validate"])
        #expect(outcome.status == 65, "\(outcome)")
        #expect(outcome.stderr.contains(try Regex("bgctl\\.yaml:\\d+:\\d+:")), "\(outcome)")
        #expect(outcome.stdout.isEmpty, "\(outcome)")
        expectOwnMessage(outcome)
    }

    @Test func aMissingSpecFileExits65SayingItCannotBeRead() throws {
        let sandbox = try Sandbox()
        let outcome = try sandbox.run(["validate", "-f", "missing.yaml"])
        #expect(outcome.status == 65, "\(outcome)")
        #expect(outcome.stderr.contains("missing.yaml"), "\(outcome)")
        #expect(outcome.stderr.contains("cannot read"), "\(outcome)")
        expectOwnMessage(outcome)
    }

    @Test func anInvalidDurationExits65WithItsKeyPath() throws {
        let sandbox = try Sandbox()
        var lines = MinimalSpec.lines(stateDirectory: sandbox.stateDirectory)
        let index = try #require(lines.firstIndex(of: "  connect_timeout: 1s"))
        lines[index] = "  connect_timeout: 1x"
        try sandbox.writeSpec(lines.joined(separator: "\n") + "\n")
        let outcome = try sandbox.run(["validate"])
        #expect(outcome.status == 65, "\(outcome)")
        #expect(outcome.stderr.contains("bgctl.yaml:\(index + 1):"), "\(outcome)")
        #expect(outcome.stderr.contains("proxy.connect_timeout"), "\(outcome)")
        #expect(outcome.stderr.contains("1x"), "\(outcome)")
        expectOwnMessage(outcome)
    }

    /// The examples a person copies from must pass validation as shipped.
    @Test func theDemoExampleIsValid() throws {
        let spec = Binary.packageRoot.appendingPathComponent("examples/demo/bgctl.yaml").path
        let outcome = try Sandbox().run(["validate", "-f", spec])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout.contains("ok"), "\(outcome)")
        #expect(outcome.stderr.isEmpty, "\(outcome)")
    }

    @Test func theSeedCompatExampleIsValidWithTheVariablesOfItsEnvExample() throws {
        let folder = Binary.packageRoot.appendingPathComponent("examples/seed-compat")
        let dotEnv = try String(contentsOf: folder.appendingPathComponent(".env.example"), encoding: .utf8)
        var environment: [String: String] = [:]
        for line in dotEnv.split(separator: "\n") where !line.hasPrefix("#") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            environment[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        #expect(environment["BLUE_IMAGE"] != nil)
        let outcome = try Sandbox().run(["validate", "-f", folder.appendingPathComponent("bgctl.yaml").path], environment: environment)
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout.contains("ok"), "\(outcome)")
    }

    @Test func theSeedCompatExampleWithoutItsVariablesExits65NamingTheVariable() throws {
        let spec = Binary.packageRoot.appendingPathComponent("examples/seed-compat/bgctl.yaml").path
        let outcome = try Sandbox().run(["validate", "-f", spec])
        #expect(outcome.status == 65, "\(outcome)")
        #expect(outcome.stderr.contains("BLUE_IMAGE"), "\(outcome)")
        expectOwnMessage(outcome)
    }
}
