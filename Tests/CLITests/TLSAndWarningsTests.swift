import Foundation
import Testing

/// proxy.tls's files checked at spec time, and warnings for variables set nowhere, as a person sees them.
@Suite struct TLSAndWarningsTests {
    let sandbox: Sandbox

    init() throws {
        sandbox = try Sandbox()
    }

    /// The minimal spec with proxy.tls naming certs/site.pem and certs/site.key; the line of `cert:`.
    func writeTLSSpec() throws -> Int {
        var lines = MinimalSpec.lines(stateDirectory: sandbox.stateDirectory)
        let index = try #require(lines.firstIndex(of: "  read_timeout: 3s"))
        lines.insert(contentsOf: ["  tls:", "    listen: \"127.0.0.1:18443\"", "    cert: certs/site.pem", "    key: certs/site.key"], at: index + 1)
        try sandbox.writeSpec(lines.joined(separator: "\n") + "\n")
        return index + 4
    }

    /// A self-signed certificate valid for `days` days, from the openssl tool, as certs/`name`.pem and .key.
    @discardableResult
    func makeCertificate(days: Int, name: String = "site") throws -> String {
        let folder = sandbox.work.appendingPathComponent("certs")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let openssl = try #require(["/usr/bin/openssl", "/usr/local/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                   "the openssl tool is not installed; make setup installs it")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: openssl)
        process.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                             "-keyout", folder.appendingPathComponent("\(name).key").path,
                             "-out", folder.appendingPathComponent("\(name).pem").path, "-days", String(days), "-subj", "/CN=bgctl.test"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return try String(contentsOf: folder.appendingPathComponent("\(name).key"), encoding: .utf8)
    }

    func jsonObject(_ outcome: Outcome) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any], "\(outcome)")
    }

    @Test func aValidCertificateValidatesAndRendersTheHTTPSServer() throws {
        _ = try writeTLSSpec()
        try makeCertificate(days: 90)
        let validated = try sandbox.run(["validate"])
        #expect(validated.status == 0 && validated.stderr.isEmpty, "\(validated)")
        let rendered = try sandbox.run(["render"])
        #expect(rendered.status == 0, "\(rendered)")
        #expect(rendered.stdout.contains("listen 18443 ssl http2;") && rendered.stdout.contains("return 308 https://$host:18443$request_uri;"))
    }

    @Test func aCertificateExpiringSoonIsAWarningWithItsDateNotAnError() throws {
        let line = try writeTLSSpec()
        try makeCertificate(days: 5)
        let outcome = try sandbox.run(["validate"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stderr.contains("bgctl.yaml:\(line):11: warning: proxy.tls.cert: the certificate in certs/site.pem expires on 20"), "\(outcome)")
        #expect(outcome.stderr.contains("(in 4 days)") || outcome.stderr.contains("(in 5 days)"), "\(outcome)")
        let json = try jsonObject(try sandbox.run(["validate", "--json"]))
        let warnings = try #require(json["warnings"] as? [[String: Any]])
        #expect(warnings.count == 1 && warnings[0]["path"] as? String == "proxy.tls.cert" && warnings[0]["line"] as? Int == line)
    }

    @Test func aKeyOfAnotherCertificateIsAnInvalidSpecAtTheKeyAndTheKeyIsNeverShown() throws {
        let line = try writeTLSSpec()
        try makeCertificate(days: 90)
        let otherKey = try makeCertificate(days: 90, name: "other")
        try FileManager.default.removeItem(at: sandbox.work.appendingPathComponent("certs/site.key"))
        try FileManager.default.copyItem(at: sandbox.work.appendingPathComponent("certs/other.key"),
                                         to: sandbox.work.appendingPathComponent("certs/site.key"))
        for arguments in [["validate"], ["render"], ["up", "--dry-run"]] {
            let outcome = try sandbox.run(arguments)
            #expect(outcome.status == 65, "\(arguments): \(outcome)")
            #expect(outcome.stderr.contains("bgctl.yaml:\(line + 1):10: proxy.tls.key:"), "\(outcome)")
            #expect(outcome.stderr.contains("does not belong to the certificate"), "\(outcome)")
            for keyLine in otherKey.split(separator: "\n") where !keyLine.hasPrefix("-----") {
                #expect(!outcome.stderr.contains(keyLine) && !outcome.stdout.contains(keyLine))
            }
        }
    }

    @Test func aKeyFileOthersCanReadIsAWarningAtTheKeyNotAnError() throws {
        let line = try writeTLSSpec()
        let key = try makeCertificate(days: 90)
        #expect(chmod(sandbox.work.appendingPathComponent("certs/site.key").path, 0o644) == 0)
        let outcome = try sandbox.run(["validate"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stderr.contains("bgctl.yaml:\(line + 1):10: warning: proxy.tls.key: "), "\(outcome)")
        #expect(outcome.stderr.contains("can be read by its group and every user on this host (mode 0644)"), "\(outcome)")
        for keyLine in key.split(separator: "\n") where !keyLine.hasPrefix("-----") { #expect(!outcome.stderr.contains(keyLine)) }
        let json = try jsonObject(try sandbox.run(["validate", "--json"]))
        #expect((json["warnings"] as? [[String: Any]])?.map { $0["path"] as? String } == ["proxy.tls.key"])
    }

    @Test func aMissingCertificateFileIsAnInvalidSpecAtTheCert() throws {
        let line = try writeTLSSpec()
        let outcome = try sandbox.run(["validate", "--json"])
        #expect(outcome.status == 65, "\(outcome)")
        let error = try #require(try jsonObject(outcome)["error"] as? [String: Any])
        let problems = try #require(error["problems"] as? [[String: Any]])
        #expect(problems.count == 1 && problems[0]["line"] as? Int == line && problems[0]["path"] as? String == "proxy.tls.cert")
        #expect((problems[0]["message"] as? String)?.hasSuffix("certs/site.pem: no such file") == true)
    }

    @Test func anUnsetVariableIsAWarningOnStderrAndInValidateJSON() throws {
        var lines = MinimalSpec.lines(stateDirectory: sandbox.stateDirectory)
        let index = try #require(lines.firstIndex(of: "  blue:  {image: \"bgctl/demo-app:local\", release: cli-1, preview_port: 18081}"))
        lines[index] = "  blue:  {image: \"bgctl/demo-app:local\", release: \"cli-1${SUFFIX}\", preview_port: 18081}"
        try sandbox.writeSpec(lines.joined(separator: "\n") + "\n")
        let outcome = try sandbox.run(["validate"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stderr.contains("bgctl.yaml:\(index + 1):"), "\(outcome)")
        #expect(outcome.stderr.contains("warning: pools.blue.release: variable SUFFIX is not set and has no default"), "\(outcome)")
        let json = try jsonObject(try sandbox.run(["validate", "--json"]))
        #expect((json["warnings"] as? [[String: Any]])?.first?["message"] as? String == "variable SUFFIX is not set and has no default, so it reads as empty; set it in the environment or .env, or write ${SUFFIX:-default}")
        let set = try sandbox.run(["validate"], environment: ["SUFFIX": "x"])
        #expect(set.status == 0 && set.stderr.isEmpty, "\(set)")
    }

    /// Every command that reads the spec loads it once: each warning is printed once, not once per load.
    @Test(arguments: [["deploy", "--image", "shop:3", "--dry-run"], ["down", "--purge", "--yes", "--dry-run"],
                      ["switch", "green", "--dry-run"], ["up", "--dry-run"], ["status"], ["render"], ["validate"]])
    func eachSpecWarningIsPrintedExactlyOnce(_ arguments: [String]) throws {
        var lines = MinimalSpec.lines(stateDirectory: sandbox.stateDirectory)
        let index = try #require(lines.firstIndex(of: "  blue:  {image: \"bgctl/demo-app:local\", release: cli-1, preview_port: 18081}"))
        lines[index] = "  blue:  {image: \"bgctl/demo-app:local\", release: \"cli-1${SUFFIX}\", preview_port: 18081}"
        try sandbox.writeSpec(lines.joined(separator: "\n") + "\n")
        try sandbox.installFakeDocker(.runningStack)
        let outcome = try sandbox.run(arguments)
        let warning = "warning: pools.blue.release: variable SUFFIX is not set and has no default"
        #expect(outcome.stderr.components(separatedBy: warning).count - 1 == 1, "\(outcome)")
    }

    @Test func aPreviewRangeOfEveryoneIsAWarningOnStderrAndInValidateJSON() throws {
        let lines = MinimalSpec.lines(stateDirectory: sandbox.stateDirectory) + ["preview: {allow: [\"::/0\"]}"]
        try sandbox.writeSpec(lines.joined(separator: "\n") + "\n")
        let outcome = try sandbox.run(["validate"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stderr.contains("bgctl.yaml:\(lines.count):"), "\(outcome)")
        #expect(outcome.stderr.contains("warning: preview.allow.0: ::/0 lets anyone on the internet reach the idle pool"), "\(outcome)")
        let json = try jsonObject(try sandbox.run(["validate", "--json"]))
        #expect((json["warnings"] as? [[String: Any]])?.first?["path"] as? String == "preview.allow.0")
    }

    @Test func aValidSpecWithoutWarningsHasAnEmptyWarningsList() throws {
        try sandbox.writeMinimalSpec()
        let json = try jsonObject(try sandbox.run(["validate", "--json"]))
        #expect((json["warnings"] as? [Any])?.isEmpty == true)
    }

    @Test func aCycleInTheDotEnvIsAnInvalidSpecAtItsLineWithoutItsValues() throws {
        try sandbox.writeMinimalSpec()
        try "TOKEN=very-secret\nA=${B}-$TOKEN\nB=${A}\n".write(to: sandbox.work.appendingPathComponent(".env"), atomically: true, encoding: .utf8)
        let outcome = try sandbox.run(["validate"])
        #expect(outcome.status == 65, "\(outcome)")
        #expect(outcome.stderr.contains(".env:2:1: A refers to B, which is set only further down, on line 3"), "\(outcome)")
        #expect(!outcome.stderr.contains("very-secret"))
    }
}

/// proxy.tls.acme's CA file, checked when the spec is (the watcher mounts it: it must be a file).
@Suite struct ACMECAFileTests {
    let sandbox: Sandbox

    init() throws {
        sandbox = try Sandbox()
    }

    func writeACMESpec(caFile: String) throws -> Int {
        var lines = MinimalSpec.lines(stateDirectory: sandbox.stateDirectory)
        let index = try #require(lines.firstIndex(of: "  read_timeout: 3s"))
        lines.insert(contentsOf: ["  hosts: [shop.example.com]", "  tls:", "    listen: \"127.0.0.1:18443\"",
                                  "    acme: {directory: \"https://ca.example/dir\", ca_file: \(caFile)}"], at: index + 1)
        try sandbox.writeSpec(lines.joined(separator: "\n") + "\n")
        return index + 5
    }

    @Test func aCAFileThatIsAFolderIsAnInvalidSpecAtItsKey() throws {
        let line = try writeACMESpec(caFile: "ca")
        try FileManager.default.createDirectory(at: sandbox.work.appendingPathComponent("ca"), withIntermediateDirectories: true)
        let outcome = try sandbox.run(["validate"])
        #expect(outcome.status == 65, "\(outcome)")
        #expect(outcome.stderr.contains("bgctl.yaml:\(line):"), "\(outcome)")
        #expect(outcome.stderr.contains("proxy.tls.acme.ca_file: ca is not a regular file"), "\(outcome)")
    }

    @Test func aMissingCAFileIsAnInvalidSpec() throws {
        _ = try writeACMESpec(caFile: "missing.pem")
        let outcome = try sandbox.run(["validate"])
        #expect(outcome.status == 65 && outcome.stderr.contains("proxy.tls.acme.ca_file: missing.pem cannot be read: No such file or directory"), "\(outcome)")
    }

    @Test func aCAFileWithoutACertificateIsAnInvalidSpec() throws {
        _ = try writeACMESpec(caFile: "ca.pem")
        try "not a certificate\n".write(to: sandbox.work.appendingPathComponent("ca.pem"), atomically: true, encoding: .utf8)
        let outcome = try sandbox.run(["validate"])
        #expect(outcome.status == 65 && outcome.stderr.contains("ca.pem holds no PEM certificate"), "\(outcome)")
    }

    @Test func aCAFileWithACertificateValidates() throws {
        _ = try writeACMESpec(caFile: "ca.pem")
        try "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".write(to: sandbox.work.appendingPathComponent("ca.pem"), atomically: true, encoding: .utf8)
        let outcome = try sandbox.run(["validate"])
        #expect(outcome.status == 0, "\(outcome)")
    }
}
