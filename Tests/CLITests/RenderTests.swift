import Foundation
import Testing

@Suite struct RenderTests {
    /// The golden cases the CLI renders as they are (those with proxy.tls name certificate files that
    /// are not there).
    static let goldenCases: [String] = {
        let root = Binary.packageRoot.appendingPathComponent("Tests/NginxConfigGenTests/Golden")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { !$0.hasPrefix("tls") }.sorted()
    }()

    @Test func theCrossProcessComparisonCoversTheGoldenCases() {
        #expect(Self.goldenCases.count >= 5 && Self.goldenCases.contains("preview"), "\(Self.goldenCases)")
    }

    // Two processes, not two renders in one: Swift seeds its hashing per process, so an order that
    // comes from a dictionary differs between runs of the binary, and only there.
    @Test(arguments: goldenCases)
    func twoProcessesRenderTheSameBytes(_ name: String) throws {
        let spec = Binary.packageRoot.appendingPathComponent("Tests/NginxConfigGenTests/Golden/\(name)/spec.yaml").path
        let sandbox = try Sandbox()
        let first = try sandbox.run(["-f", spec, "render"])
        let second = try sandbox.run(["-f", spec, "render"])
        #expect(first.status == 0, "\(first)")
        #expect(first.stdout.contains("upstream"), "\(first)")
        #expect(Array(first.stdout.utf8) == Array(second.stdout.utf8), "\(name): the two processes rendered different bytes")
    }

    /// Inside a host's agent the spec is that host's alone; its proxy still answers fleet.health_path,
    /// with the bytes the fleet's spec renders.
    @Test func aFleetHostsAgentRendersTheFleetsHealthPathAsTheFleetsSpecDoes() throws {
        let spec = Binary.packageRoot.appendingPathComponent("Tests/NginxConfigGenTests/Golden/fleet/spec.yaml").path
        let sandbox = try Sandbox()
        let fleet = try sandbox.run(["-f", spec, "render"])
        let host = try sandbox.run(["-f", spec, "render"], environment: ["BGCTL_FLEET_HOST": "web2"])
        #expect(fleet.status == 0 && host.status == 0, "\(fleet)\n\(host)")
        #expect(host.stdout.contains("location = /_bgctl/fleet {"), "\(host)")
        #expect(host.stdout == fleet.stdout)
    }

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
