import Foundation
import Testing
@testable import NginxConfigGen

/// Golden files: each folder under Golden/ holds a spec.yaml and the exact files bgctl renders from it.
/// Run with BGCTL_RECORD_GOLDEN=1 to re-record; the change then shows up in review. Recording fails the run,
/// so a CI job that has the variable set can never pass without comparing anything.
@Suite struct GoldenTests {
    static let goldenRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    static let templates = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../templates").standardized.path
    static let cases = (try? FileManager.default.contentsOfDirectory(atPath: goldenRoot.path).sorted()) ?? []

    /// Stands in for the files' digest in golden cases with proxy.tls: fixed, so the output is too.
    static let tlsFingerprint = String(repeating: "0123456789abcdef", count: 4)

    /// A case's files. No pool is live in them and no canary weighs in: the route decides per request,
    /// so a case is a spec and nothing else.
    static func render(_ name: String) throws -> RenderedConfig {
        let folder = goldenRoot.appendingPathComponent(name)
        let spec = try SpecLoader.load(path: folder.appendingPathComponent("spec.yaml").path, environment: [:]).get()
        // A case named *-pending has no certificate yet (ACME before its first issuance).
        return try ConfigRenderer(templatesDirectory: templates)
            .render(spec, tlsFingerprint: spec.proxy.tls == nil || name.hasSuffix("-pending") ? nil : tlsFingerprint)
    }

    @Test func thereAreGoldenCases() {
        #expect(Self.cases.count >= 5)
        #expect(Self.cases.contains("tls") && Self.cases.contains("tls-no-redirect"))
        #expect(Self.cases.contains("preview") && Self.cases.contains("preview-cookie-only"))
    }

    /// A switch or a canary step renames the route and never reloads, which holds only while the
    /// configuration is the same bytes whichever pool the spec calls active.
    @Test(arguments: cases)
    func theActivePoolDoesNotChangeTheConfiguration(_ name: String) throws {
        let text = try String(contentsOf: Self.goldenRoot.appendingPathComponent(name).appendingPathComponent("spec.yaml"), encoding: .utf8)
        let spec = try SpecLoader.parse(yaml: text, file: "spec.yaml", variables: [:]).get()
        var other = spec
        other.active = spec.active.other
        let renderer = try ConfigRenderer(templatesDirectory: Self.templates)
        #expect(renderer.render(other, tlsFingerprint: Self.tlsFingerprint) == renderer.render(spec, tlsFingerprint: Self.tlsFingerprint))
    }

    @Test(arguments: cases)
    func renderedFilesMatchTheGoldenFiles(_ name: String) throws {
        let config = try Self.render(name)
        let folder = Self.goldenRoot.appendingPathComponent(name)
        #expect(config.files.keys.sorted() == ["bgctl.conf", "nginx.conf"])
        for (file, contents) in config.files {
            let path = folder.appendingPathComponent(file).path
            if ProcessInfo.processInfo.environment["BGCTL_RECORD_GOLDEN"] == "1" {
                try AtomicWriter.write(contents, to: path)
                Issue.record("re-recorded \(name)/\(file); review the diff and run again without BGCTL_RECORD_GOLDEN")
                continue
            }
            let expected = try #require(FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) },
                                        "missing \(path); record with BGCTL_RECORD_GOLDEN=1")
            #expect(contents == expected, "\(name)/\(file) differs from the golden file")
        }
    }

    @Test(arguments: cases)
    func renderingIsDeterministic(_ name: String) throws {
        #expect(try Self.render(name) == Self.render(name))
    }

    /// The real nginx parses every golden output; a template nginx rejects fails the build.
    @Test(arguments: cases)
    func nginxAcceptsTheRenderedConfiguration(_ name: String) throws {
        let config = try Self.render(name)
        let result = try NginxCheck.run(config)
        #expect(result.status == 0, "nginx -t failed for \(name):\n\(result.output)")
        #expect(result.output.contains("test is successful"))
    }

    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples").standardized

    /// Every example spec renders into a configuration nginx accepts, which takes the live pool from
    /// the route (and logs it from there, for the watcher).
    @Test(arguments: ["demo", "seed-compat"])
    func exampleSpecsRenderConfigurationsNginxAccepts(_ example: String) throws {
        let folder = Self.examples.appendingPathComponent(example)
        var variables: [String: String] = [:]
        if let envExample = FileManager.default.contents(atPath: folder.appendingPathComponent(".env.example").path) {
            variables = try DotEnv.parse(String(decoding: envExample, as: UTF8.self)).get()
        }
        let text = try String(contentsOf: folder.appendingPathComponent("bgctl.yaml"), encoding: .utf8)
        let spec = try SpecLoader.parse(yaml: text, file: "\(example)/bgctl.yaml", variables: variables).get()
        let config = try ConfigRenderer(templatesDirectory: Self.templates).render(spec)
        let result = try NginxCheck.run(config)
        #expect(result.status == 0, "nginx -t failed for \(example):\n\(result.output)")
        let site = try #require(config.files[RenderedConfig.siteFile])
        #expect(site.contains("\"live\":\"$bgctl_target\""))
        #expect(site.contains("if (-f \(Route.mount)/\(Route.currentLink)/green) {"))
    }

    @Test func nginxRejectsABrokenConfigurationSoTheCheckCanFail() throws {
        var config = try Self.render(Self.cases[0])
        var files = config.files
        files["bgctl.conf"] = files["bgctl.conf"]! + "\nserver { listen 1; bogus_directive on; }\n"
        config = RenderedConfig(files: files)
        let result = try NginxCheck.run(config)
        #expect(result.status != 0)
        #expect(result.output.contains("bogus_directive"))
    }
}

/// Runs Debian's nginx -t on a rendered configuration inside a scratch prefix, as the proxy image does.
/// A configuration with TLS gets a throwaway self-signed certificate in the folder it names: nginx -t
/// loads the files, and the proxy's /bgctl/tls/ is read from the prefix's tls/ instead.
enum NginxCheck {
    static func run(_ config: RenderedConfig) throws -> (status: Int32, output: String) {
        let prefix = FileManager.default.temporaryDirectory.appendingPathComponent("bgctl-nginx-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: prefix) }
        for dir in ["conf", "logs", "run", "tmp"] {
            try FileManager.default.createDirectory(at: prefix.appendingPathComponent(dir), withIntermediateDirectories: true)
        }
        let conf = prefix.appendingPathComponent("conf").path
        var config = config
        if config.files.values.contains(where: { $0.contains("/bgctl/tls/") }) {
            // The pair's folder, named by its fingerprint: what follows /bgctl/tls/ up to the next slash.
            let site = try #require(config.files.values.first { $0.contains("ssl_certificate /bgctl/tls/") })
            let after = site[try #require(site.range(of: "ssl_certificate /bgctl/tls/")).upperBound...]
            let folder = String(after.prefix { $0 != "/" })
            let tls = prefix.appendingPathComponent("tls")
            let pair = try TestCertificates.make(in: tls)
            let pairFolder = tls.appendingPathComponent(folder)
            try FileManager.default.createDirectory(at: pairFolder, withIntermediateDirectories: true)
            try FileManager.default.moveItem(atPath: pair.cert, toPath: pairFolder.appendingPathComponent("cert.pem").path)
            try FileManager.default.moveItem(atPath: pair.key, toPath: pairFolder.appendingPathComponent("key.pem").path)
            config = RenderedConfig(files: config.files.mapValues { $0.replacingOccurrences(of: "/bgctl/tls/", with: tls.path + "/") })
        } else if config.files.values.contains(where: { $0.contains("\(FrontConfig.confMount)/\(FrontConfig.projectsFolder)/") }) {
            // A part for the shared front: its absolute paths below /bgctl/ move into the prefix, with
            // the log's folder, and the pair where ssl_certificate names it (ACME's tls/live).
            config = RenderedConfig(files: config.files.mapValues { $0.replacingOccurrences(of: "/bgctl/", with: prefix.path + "/") })
            for text in config.files.values {
                for line in text.split(separator: "\n") {
                    let words = line.trimmingCharacters(in: .whitespaces).split(separator: " ")
                    guard words.count >= 2, words[1].hasPrefix(prefix.path) else { continue }
                    let path = String(words[1].trimmingCharacters(in: CharacterSet(charactersIn: ";")))
                    let parent = (path as NSString).deletingLastPathComponent
                    if words[0] == "access_log" {
                        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
                    } else if words[0] == "ssl_certificate", !FileManager.default.fileExists(atPath: path) {
                        let pair = try TestCertificates.make(in: prefix.appendingPathComponent("pair"))
                        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
                        try FileManager.default.moveItem(atPath: pair.cert, toPath: parent + "/cert.pem")
                        try FileManager.default.moveItem(atPath: pair.key, toPath: parent + "/key.pem")
                    }
                }
            }
        }
        try AtomicWriter.write(config, into: conf)
        let nginx = ["/usr/sbin/nginx", "/usr/local/sbin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(nginx, "nginx is not installed; make test installs it"))
        process.arguments = ["-t", "-e", "stderr", "-p", prefix.path + "/", "-c", conf + "/nginx.conf"]
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
