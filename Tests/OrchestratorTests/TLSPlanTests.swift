import Foundation
import Testing
import NginxConfigGen
@testable import Orchestrator

/// Certificates for plans: a plan never parses PEM, so text that only looks like it will do.
enum TLSFixture {
    static func material(_ serial: String) -> TLSMaterial {
        TLSMaterial(certificate: "-----BEGIN CERTIFICATE-----\n\(serial)\n-----END CERTIFICATE-----\n",
                    key: Secret("-----BEGIN PRIVATE KEY-----\nkey-\(serial)\n-----END PRIVATE KEY-----\n"),
                    info: CertificateInfo(notBefore: Date(timeIntervalSince1970: 1_790_000_000),
                                          notAfter: Date(timeIntervalSince1970: 1_810_000_000)))
    }

    static let old = material("old")
    static let renewed = material("renewed")

    static func spec() throws -> DeploymentSpec {
        var spec = try Fixture.spec()
        spec.proxy.tls = TLSSpec(cert: "certs/site.pem", key: "certs/site.key")
        spec.proxy.tls?.listen = ListenAddress(host: "0.0.0.0", port: 8443)
        return spec
    }
}

/// What `up` does about proxy.tls, one observed situation per row.
@Suite struct TLSUpPlanTests {
    struct Case: Sendable, CustomStringConvertible {
        let description: String
        /// The spec the stack was brought up with, and the files installed then (nil: TLS was off).
        let before: TLS
        /// The spec and files this up runs with.
        let now: TLS
        let expected: [String]

        enum TLS: Sendable {
            case off
            case on(TLSMaterial)
        }
    }

    static let cases: [Case] = [
        Case(description: "no change: nothing to do", before: .on(TLSFixture.old), now: .on(TLSFixture.old), expected: []),
        Case(description: "a renewed certificate: copied, tested and reloaded; the proxy is kept",
             before: .on(TLSFixture.old), now: .on(TLSFixture.renewed),
             expected: ["write-tls", "stage", "nginx-test", "install", "reload", "verify", "remember-tested", "record"]),
        Case(description: "TLS turned on: the proxy is recreated with the new port and mount",
             before: .off, now: .on(TLSFixture.renewed),
             expected: ["warn-proxy", "remove-proxy", "write-tls", "write-config", "start-proxy", "wait-proxy", "remember-tested", "record"]),
        Case(description: "TLS turned off: the proxy is recreated and the copies deleted",
             before: .on(TLSFixture.old), now: .off,
             expected: ["warn-proxy", "remove-proxy", "write-config", "start-proxy", "wait-proxy", "remember-tested", "remove-tls", "record"]),
    ]

    func spec(_ tls: Case.TLS) throws -> DeploymentSpec {
        if case .on = tls { return try TLSFixture.spec() }
        return try Fixture.spec()
    }

    func material(_ tls: Case.TLS) -> TLSMaterial? {
        if case .on(let material) = tls { return material }
        return nil
    }

    @Test(arguments: cases)
    func upPlansForTLS(_ row: Case) throws {
        let observed = World.up(try spec(row.before), tls: material(row.before))
        let request = UpPlanner.Request(pull: .never, specFile: "/srv/shop/bgctl.yaml", tls: material(row.now))
        let plan = try UpPlanner.plan(request, spec: try spec(row.now), paths: World.paths, renderer: World.renderer, observed: observed)
        #expect(plan.names == row.expected)
        if row.expected.isEmpty { #expect(plan.nothingToDo?.contains("nothing to change") == true) }
    }

    @Test func theRenewedFilesAreWhatTheStepWritesAndTheConfigurationNames() throws {
        let spec = try TLSFixture.spec()
        let plan = try UpPlanner.plan(.init(pull: .never, specFile: nil, tls: TLSFixture.renewed), spec: spec, paths: World.paths,
                                      renderer: World.renderer, observed: World.up(spec, tls: TLSFixture.old))
        guard case .writeTLS(let written) = plan.steps.first?.action else { Issue.record("the first step writes the files"); return }
        #expect(written == TLSFixture.renewed)
        guard case .stageConfig(let staged) = plan.steps[1].action else { Issue.record("then the configuration is staged"); return }
        #expect(staged.files[RenderedConfig.siteFile]?.contains("sha256 is \(TLSFixture.renewed.fingerprint)") == true)
        #expect(!plan.listing(spec).joined().contains("key-renewed"), "the key never shows in a dry run")
    }

    @Test func copiesInTLSChangedByHandAreWrittenAgainAndReloaded() throws {
        let spec = try TLSFixture.spec()
        var observed = World.up(spec, tls: TLSFixture.old)
        observed.tlsFingerprint = "edited"
        let plan = try UpPlanner.plan(.init(pull: .never, specFile: nil, tls: TLSFixture.old), spec: spec, paths: World.paths,
                                      renderer: World.renderer, observed: observed)
        #expect(plan.names == ["write-tls", "stage", "nginx-test", "install", "reload", "verify", "remember-tested", "record"])
    }

    @Test func aFreshHostWritesTheFilesBeforeTheProxyStarts() throws {
        let plan = try UpPlanner.plan(.init(pull: .never, specFile: nil, tls: TLSFixture.old), spec: try TLSFixture.spec(),
                                      paths: World.paths, renderer: World.renderer, observed: Observed())
        #expect(plan.names == ["create-network", "create-folders", "start-blue", "start-green", "wait-healthy",
                               "write-tls", "write-config", "start-proxy", "wait-proxy", "remember-tested", "record"])
    }

    @Test func upWithTLSButNoCheckedFilesIsRefusedBeforeAnyStep() throws {
        let spec = try TLSFixture.spec()
        #expect(throws: OrchestratorError.tlsNotChecked) {
            try UpPlanner.plan(.init(pull: .never, specFile: nil), spec: spec, paths: World.paths, renderer: World.renderer,
                               observed: World.up(spec, tls: TLSFixture.old))
        }
    }

    @Test func aSwitchKeepsTheInstalledFilesAndNamesThem() throws {
        let spec = try TLSFixture.spec()
        let observed = World.up(spec, tls: TLSFixture.old)
        let plan = try SwitchPlanner.plan(.init(target: .green), spec: spec, renderer: World.renderer, observed: observed)
        #expect(!plan.names.contains("write-tls"))
        guard case .stageConfig(let staged) = plan.steps.first?.action else { Issue.record("a switch stages first"); return }
        #expect(staged.files[RenderedConfig.siteFile]?.contains("sha256 is \(TLSFixture.old.fingerprint)") == true)
    }
}

@Suite struct TLSProxyContainerTests {
    @Test func theProxyPublishesTheHTTPSPortAndMountsTLSReadOnly() throws {
        let args = Docker.run(StackPlan.proxyContainer(try TLSFixture.spec(), paths: World.paths, pull: .never)).arguments
        #expect(args.contains("127.0.0.1:8080:8080") && args.contains("0.0.0.0:8443:8443"))
        #expect(args.contains("/srv/shop/.bgctl/tls:/bgctl/tls:ro"))
    }

    @Test func withoutTLSNeitherIsThereAndTheContainerIsAsBefore() throws {
        let args = Docker.run(StackPlan.proxyContainer(try Fixture.spec(), paths: World.paths, pull: .never)).arguments
        #expect(!args.contains { $0.contains("8443") || $0.contains("/bgctl/tls") })
    }

    @Test func theHTTPSPortIsPartOfTheContainersSettings() throws {
        var other = try TLSFixture.spec()
        other.proxy.tls?.listen = ListenAddress(host: "0.0.0.0", port: 443)
        #expect(StackPlan.proxyContainer(try TLSFixture.spec(), paths: World.paths, pull: .never).fingerprint
                != StackPlan.proxyContainer(other, paths: World.paths, pull: .never).fingerprint)
    }

    @Test func theFilesTheSpecNamesAreNotPartOfTheContainersSettings() throws {
        var moved = try TLSFixture.spec()
        moved.proxy.tls?.cert = "elsewhere/site.pem"
        moved.proxy.tls?.key = "elsewhere/site.key"
        #expect(StackPlan.proxyContainer(try TLSFixture.spec(), paths: World.paths, pull: .never).fingerprint
                == StackPlan.proxyContainer(moved, paths: World.paths, pull: .never).fingerprint)
    }

    @Test func purgeCoversTheCopies() {
        #expect(World.paths.ownedPaths.contains("/srv/shop/.bgctl/tls"))
    }
}

/// The write-tls step and status, on real files in a temp state folder.
@Suite struct TLSFilesOnDiskTests {
    let stateDir = Fixture.tempDir()

    func stack() throws -> Stack {
        var stack = try Fixture.stack(runner: ScriptedRunner(), http: ScriptedHTTP(), stateDir: stateDir)
        stack.spec.proxy.tls = try TLSFixture.spec().proxy.tls
        return stack
    }

    @Test func writeTLSCopiesBothFilesWithTheKeyPrivate() throws {
        let stack = try stack()
        try Executor(stack: stack, started: 0).run(Plan(title: "t", steps: [Step("write-tls", "copy", .writeTLS(TLSFixture.renewed))]))
        #expect(FileManager.default.contents(atPath: stack.paths.tlsCertificate) == Data(TLSFixture.renewed.certificate.utf8))
        #expect(FileManager.default.contents(atPath: stack.paths.tlsKey) == Data(TLSFixture.renewed.key.revealed.utf8))
        let mode = try FileManager.default.attributesOfItem(atPath: stack.paths.tlsKey)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(stack.installedTLSFingerprint() == TLSFixture.renewed.fingerprint)
    }

    @Test func upOnAFreshHostInstallsTheFilesAndStartsTheProxyOnBothPorts() throws {
        let runner = ScriptedRunner()
        let http = ScriptedHTTP()
        runner.on(["version"], CommandResult(status: 0, stdout: "20.10.24\n"))
        runner.on(["container", "inspect"], CommandResult(status: 1, stdout: "[]", stderr: "Error: No such container: shop-blue"),
                  CommandResult(status: 0, stdout: ExecutorTests.allRunning))
        runner.on(["network", "inspect"], CommandResult(status: 1, stderr: "Error: No such network: shop-net"))
        runner.on(["network", "create"], CommandResult(status: 0))
        runner.on(["run"], CommandResult(status: 0))
        http.on(":8081/healthz", ScriptedHTTP.ok())
        http.on(":8082/healthz", ScriptedHTTP.ok())
        http.on(":8080/_bgctl/health", ScriptedHTTP.ok())
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"))
        var stack = try Fixture.stack(runner: runner, http: http, stateDir: stateDir)
        stack.spec.proxy.tls = try TLSFixture.spec().proxy.tls
        stack.tls = TLSFixture.old
        _ = try stack.up(lockWait: 1)
        #expect(stack.installedTLSFingerprint() == TLSFixture.old.fingerprint)
        #expect(stack.currentFiles() == stack.renderer.render(stack.spec, live: .blue, tlsFingerprint: TLSFixture.old.fingerprint).files)
        let proxyRun = try #require(runner.calls(startingWith: ["run"]).first { $0.contains("shop-proxy") })
        #expect(proxyRun.contains("0.0.0.0:8443:8443") && proxyRun.contains("\(stack.paths.tlsDir):/bgctl/tls:ro"))
        #expect(runner.unscripted.isEmpty)
    }

    @Test func withoutBothCopiesThereIsNoInstalledFingerprint() throws {
        let stack = try stack()
        try AtomicWriter.write(TLSFixture.old.certificate, to: stack.paths.tlsCertificate)
        #expect(stack.installedTLSFingerprint() == nil)
    }
}

/// `status` on proxy.tls: the installed certificate's dates against the stack's clock, and whether the
/// files the spec names are the installed ones.
@Suite struct TLSStatusTests {
    let stateDir = Fixture.tempDir()
    let pem: Data
    let info: CertificateInfo

    /// A real certificate (status reads its dates) from the openssl tool.
    init() throws {
        let folder = Fixture.tempDir()
        let openssl = try #require(["/usr/bin/openssl", "/usr/local/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                   "the openssl tool is not installed; make setup installs it")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: openssl)
        process.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                             "-keyout", folder + "/k.pem", "-out", folder + "/c.pem", "-days", "30", "-subj", "/CN=bgctl.test"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        pem = try #require(FileManager.default.contents(atPath: folder + "/c.pem"))
        info = try #require(TLSFiles.certificateInfo(pem: Array(pem)))
    }

    func stack(now: Date, installed: Bool = true) throws -> Stack {
        var stack = try Fixture.stack(runner: ScriptedRunner(), http: ScriptedHTTP(), stateDir: stateDir)
        stack.spec.proxy.tls = try TLSFixture.spec().proxy.tls
        stack.ports.clock = Clock(now: { now }, monotonic: { 0 }, sleep: { _ in })
        if installed {
            try AtomicWriter.write(String(decoding: pem, as: UTF8.self), to: stack.paths.tlsCertificate)
            try AtomicWriter.write("key", to: stack.paths.tlsKey, mode: 0o600)
        }
        return stack
    }

    func status(_ stack: Stack, source: Result<TLSMaterial, TLSIssue>? = nil, proxyRunning: Bool = true)
        throws -> (StackStatus.TLSStatus, [String]) {
        var problems: [String] = []
        let tls = try #require(stack.spec.proxy.tls)
        let status = stack.tlsStatus(tls, installed: stack.installedTLSFingerprint(), source: source, proxyRunning: proxyRunning,
                                     problems: &problems)
        return (status, problems)
    }

    @Test func theInstalledCertificatesExpiryAndDaysLeftAreShown() throws {
        let (status, problems) = try status(try stack(now: info.notAfter.addingTimeInterval(-10 * 86_400)))
        #expect(status == StackStatus.TLSStatus(listen: "0.0.0.0:8443", notAfter: CertificateInfo.format(info.notAfter), daysLeft: 10))
        #expect(problems.isEmpty, "expiring soon is shown by days_left, not a problem")
    }

    @Test func anExpiredInstalledCertificateIsAProblem() throws {
        let (status, problems) = try status(try stack(now: info.notAfter))
        #expect(status.daysLeft == 0)
        #expect(problems == ["the certificate served on 0.0.0.0:8443 expired on \(CertificateInfo.format(info.notAfter)); renew it and run bgctl up"])
    }

    @Test func filesThatChangedSinceUpAreAProblem() throws {
        let stack = try stack(now: info.notBefore)
        let (status, problems) = try status(stack, source: .success(TLSFixture.renewed))
        #expect(status.filesInSync == false)
        #expect(problems == ["the certificate or key in proxy.tls changed since bgctl up installed them (run bgctl up to load them)"])
    }

    @Test func theInstalledFilesMatchingTheSpecsAreInSync() throws {
        let stack = try stack(now: info.notBefore)
        let same = TLSMaterial(certificate: String(decoding: pem, as: UTF8.self), key: Secret("key"), info: info)
        let (status, problems) = try status(stack, source: .success(same))
        #expect(status.filesInSync == true && problems.isEmpty)
    }

    @Test func filesThatFailTheirCheckAreAProblemNamedByTheirKey() throws {
        let (status, problems) = try status(try stack(now: info.notBefore), source: .failure(TLSIssue(.key, "cannot read k.pem: no such file")))
        #expect(status.filesInSync == nil)
        #expect(problems == ["proxy.tls.key: cannot read k.pem: no such file"])
    }

    @Test func aRunningProxyWithNoCertificateInstalledIsAProblem() throws {
        let (status, problems) = try status(try stack(now: info.notBefore, installed: false))
        #expect(status.notAfter == nil && status.daysLeft == nil)
        #expect(problems == ["no certificate is installed in tls/cert.pem for 0.0.0.0:8443 (run bgctl up)"])
        #expect(try self.status(try stack(now: info.notBefore, installed: false), proxyRunning: false).1.isEmpty)
    }

    @Test func unknownValuesAreNullInJSON() throws {
        let data = try JSONEncoder().encode(StackStatus.TLSStatus(listen: "0.0.0.0:443"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["listen", "not_after", "days_left", "files_in_sync"])
        #expect(object["not_after"] is NSNull)
    }
}
