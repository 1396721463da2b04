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
             expected: ["write-tls", "stage", "nginx-test", "install", "reload", "verify", "remember-tested", "record", "prune-tls"]),
        Case(description: "TLS turned on: the proxy is recreated with the new port and mount",
             before: .off, now: .on(TLSFixture.renewed),
             expected: ["warn-proxy", "remove-proxy", "write-tls", "write-config", "write-route", "start-proxy", "wait-proxy", "remember-tested", "record",
                        "prune-tls"]),
        Case(description: "TLS turned off: the proxy is recreated and the copies deleted",
             before: .on(TLSFixture.old), now: .off,
             expected: ["warn-proxy", "remove-proxy", "write-config", "write-route", "start-proxy", "wait-proxy", "remember-tested", "remove-tls", "record"]),
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
        let site = try #require(staged.files[RenderedConfig.siteFile])
        #expect(site.contains("ssl_certificate /bgctl/tls/\(TLSFixture.renewed.fingerprint)/cert.pem;"))
        #expect(site.contains("ssl_certificate_key /bgctl/tls/\(TLSFixture.renewed.fingerprint)/key.pem;"))
        #expect(plan.steps.last?.action == .pruneTLS(keep: TLSFixture.renewed.fingerprint), "the old pair goes only after the record")
        #expect(plan.names.suffix(2) == ["record", "prune-tls"])
        #expect(!plan.listing(spec).joined().contains("key-renewed"), "the key never shows in a dry run")
    }

    @Test func copiesInTLSChangedByHandAreWrittenAgainAndReloaded() throws {
        let spec = try TLSFixture.spec()
        var observed = World.up(spec, tls: TLSFixture.old)
        observed.tlsIntact = false
        let plan = try UpPlanner.plan(.init(pull: .never, specFile: nil, tls: TLSFixture.old), spec: spec, paths: World.paths,
                                      renderer: World.renderer, observed: observed)
        #expect(plan.names == ["write-tls", "stage", "nginx-test", "install", "reload", "verify", "remember-tested", "record", "prune-tls"])
    }

    @Test func aLiveConfigurationNamingNoFolderGetsTheFilesAndANewConfiguration() throws {
        // What an older layout (tls/cert.pem) or a missing folder looks like.
        let spec = try TLSFixture.spec()
        var observed = World.up(spec, tls: TLSFixture.old)
        observed.tlsFingerprint = nil
        observed.liveFiles = World.renderer.render(spec).files
        observed.tlsEntries = ["cert.pem", "key.pem"]
        let plan = try UpPlanner.plan(.init(pull: .never, specFile: nil, tls: TLSFixture.old), spec: spec, paths: World.paths,
                                      renderer: World.renderer, observed: observed)
        #expect(plan.names == ["write-tls", "stage", "nginx-test", "install", "reload", "verify", "remember-tested", "record", "prune-tls"])
    }

    @Test func foldersLeftByAnUpThatFailedAreRemovedByTheNextOne() throws {
        let spec = try TLSFixture.spec()
        var observed = World.up(spec, tls: TLSFixture.old)
        observed.tlsEntries = [TLSFixture.old.fingerprint, TLSFixture.renewed.fingerprint]
        let plan = try UpPlanner.plan(.init(pull: .never, specFile: nil, tls: TLSFixture.old), spec: spec, paths: World.paths,
                                      renderer: World.renderer, observed: observed)
        #expect(plan.names == ["record", "prune-tls"])
        #expect(plan.steps.last?.action == .pruneTLS(keep: TLSFixture.old.fingerprint))
        #expect(plan.nothingToDo == nil)
    }

    @Test func aFreshHostWritesTheFilesBeforeTheProxyStarts() throws {
        let plan = try UpPlanner.plan(.init(pull: .never, specFile: nil, tls: TLSFixture.old), spec: try TLSFixture.spec(),
                                      paths: World.paths, renderer: World.renderer, observed: Observed())
        #expect(plan.names == ["create-network", "create-folders", "start-blue", "start-green", "wait-healthy",
                               "write-tls", "write-config", "write-route", "start-proxy", "wait-proxy", "remember-tested", "record", "prune-tls"])
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
        #expect(plan.names == ["route", "verify", "record"], "the configuration naming the installed pair stays as it is")
        // A stack made before routes gets the configuration with its switch: naming the pair installed.
        var before = observed
        before.liveFiles[RenderedConfig.siteFile] = Fixture.siteBeforeRoutes
        let converting = try SwitchPlanner.plan(.init(target: .green), spec: spec, renderer: World.renderer, observed: before)
        #expect(!converting.names.contains("write-tls"))
        guard case .stageConfig(let staged) = converting.steps.first(where: { $0.name == "stage" })?.action else { Issue.record("a switch stages"); return }
        #expect(staged.files[RenderedConfig.siteFile]?.contains("ssl_certificate /bgctl/tls/\(TLSFixture.old.fingerprint)/cert.pem;") == true)
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
        moved.proxy.tls?.source = .files(TLSFileSource(cert: "elsewhere/site.pem", key: "elsewhere/site.key"))
        #expect(StackPlan.proxyContainer(try TLSFixture.spec(), paths: World.paths, pull: .never).fingerprint
                == StackPlan.proxyContainer(moved, paths: World.paths, pull: .never).fingerprint)
    }

    @Test func purgeCoversTheCopies() {
        #expect(World.paths.ownedPaths.contains("/srv/shop/.bgctl/tls"))
    }
}

/// Installs a pair as `up` leaves it: the files in their folder, and a configuration naming it.
extension TLSFixture {
    static func install(_ material: TLSMaterial, in stack: Stack, live: Pool = .blue) throws {
        try AtomicWriter.write(material.certificate, to: stack.paths.tlsCertificate(material.fingerprint))
        try AtomicWriter.write(material.key.revealed, to: stack.paths.tlsKey(material.fingerprint), mode: 0o600)
        try stack.writeLive(Route(live: live), tlsFingerprint: material.fingerprint)
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

    func contents(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func writeTLSCopiesBothFilesIntoTheirOwnFolderWithTheKeyPrivate() throws {
        let stack = try stack()
        let fingerprint = TLSFixture.renewed.fingerprint
        try Executor(stack: stack, started: 0).run(Plan(title: "t", steps: [Step("write-tls", "copy", .writeTLS(TLSFixture.renewed))]))
        #expect(stack.paths.tlsCertificate(fingerprint) == "\(stateDir)/tls/\(fingerprint)/cert.pem")
        #expect(contents(stack.paths.tlsCertificate(fingerprint)) == TLSFixture.renewed.certificate)
        #expect(contents(stack.paths.tlsKey(fingerprint)) == TLSFixture.renewed.key.revealed)
        let mode = try FileManager.default.attributesOfItem(atPath: stack.paths.tlsKey(fingerprint))[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(stack.installedTLS() == nil, "no configuration names the folder yet")
        try AtomicWriter.write(stack.renderer.render(stack.spec, tlsFingerprint: fingerprint), into: stack.paths.nginxDir)
        #expect(stack.installedTLS()?.fingerprint == fingerprint && stack.installedTLS()?.intact == true)
    }

    @Test func upOnAFreshHostInstallsTheFilesAndStartsTheProxyOnBothPorts() throws {
        let runner = ScriptedRunner()
        let http = ScriptedHTTP()
        scriptUpOnFreshHost(runner, http)
        var stack = try Fixture.stack(runner: runner, http: http, stateDir: stateDir)
        stack.spec.proxy.tls = try TLSFixture.spec().proxy.tls
        stack.tls = TLSFixture.old
        _ = try stack.up(lockWait: 1)
        #expect(stack.installedTLS()?.fingerprint == TLSFixture.old.fingerprint)
        #expect(stack.currentFiles() == stack.renderer.render(stack.spec, tlsFingerprint: TLSFixture.old.fingerprint).files)
        #expect(try FileManager.default.subpathsOfDirectory(atPath: stack.paths.tlsDir).count == 3, "the folder and its two files")
        let proxyRun = try #require(runner.calls(startingWith: ["run"]).first { $0.contains("shop-proxy") })
        #expect(proxyRun.contains("0.0.0.0:8443:8443") && proxyRun.contains("\(stack.paths.tlsDir):/bgctl/tls:ro"))
        #expect(runner.unscripted.isEmpty)
    }

    @Test func withoutBothCopiesThereIsNoInstalledFingerprint() throws {
        let stack = try stack()
        try TLSFixture.install(TLSFixture.old, in: stack)
        try FileManager.default.removeItem(atPath: stack.paths.tlsKey(TLSFixture.old.fingerprint))
        #expect(stack.installedTLS() == nil)
    }

    @Test func copiesChangedByHandAreNotIntact() throws {
        let stack = try stack()
        try TLSFixture.install(TLSFixture.old, in: stack)
        try AtomicWriter.write("edited", to: stack.paths.tlsKey(TLSFixture.old.fingerprint), mode: 0o600)
        #expect(stack.installedTLS()?.fingerprint == TLSFixture.old.fingerprint && stack.installedTLS()?.intact == false)
    }

    @Test(arguments: ["ssl_certificate /bgctl/tls/../../etc/cert.pem;", "ssl_certificate /bgctl/tls/ABC/cert.pem;",
                      "ssl_certificate /bgctl/tls/cert.pem;", "ssl_certificate /bgctl/tls//cert.pem;"])
    func aConfigurationNamingAnythingButAFingerprintNamesNoFolder(_ line: String) {
        #expect(Stack.tlsFolder(namedBy: [RenderedConfig.siteFile: "server {\n    \(line)\n}\n"]) == nil)
    }

    @Test func theFolderTheConfigurationNamesIsItsFingerprint() {
        let line = "    ssl_certificate /bgctl/tls/\(TLSFixture.old.fingerprint)/cert.pem;"
        #expect(Stack.tlsFolder(namedBy: [RenderedConfig.siteFile: "server {\n\(line)\n}\n"]) == TLSFixture.old.fingerprint)
    }
}

/// A certificate change that fails or dies half way leaves the proxy on the pair it had.
@Suite struct TLSChangeInterruptedTests {
    let runner = ScriptedRunner()
    let http = ScriptedHTTP()
    let stateDir = Fixture.tempDir()

    func stack(nginxTest: Int32) throws -> Stack {
        runner.on(["exec", "shop-proxy", "/usr/sbin/nginx"],
                  CommandResult(status: nginxTest, stderr: nginxTest == 0 ? "" : "nginx: [emerg] cannot load certificate"))
        runner.on(["kill", "--signal", "HUP", "shop-proxy"], CommandResult(status: 0))
        // A renewal reloads: one worker before, shutting down beside its successor after.
        runner.on(["top", "shop-proxy"], proxyTop([(11, false)]), proxyTop([(11, true), (12, false)]))
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "blue"))
        var stack = try Fixture.stack(runner: runner, http: http, stateDir: stateDir)
        stack.spec.proxy.tls = try TLSFixture.spec().proxy.tls
        try TLSFixture.install(TLSFixture.old, in: stack)
        try stack.store.save(StackState(project: "shop", live: .blue, updatedAt: "t", lastSwitch: nil))
        return stack
    }

    /// The up that replaces the old pair with the renewed one, as planned for a running proxy.
    func renewal(_ stack: Stack) throws -> Plan {
        var observed = World.up(stack.spec, tls: TLSFixture.old)
        observed.tlsEntries = FileManager.default.fileExists(atPath: stack.paths.tlsDir)
            ? try FileManager.default.contentsOfDirectory(atPath: stack.paths.tlsDir) : []
        return try UpPlanner.plan(.init(pull: .never, specFile: nil, tls: TLSFixture.renewed), spec: stack.spec, paths: World.paths,
                                  renderer: stack.renderer, observed: observed)
    }

    func contents(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    func expectOldPairInstalled(_ stack: Stack) {
        #expect(stack.currentFiles() == stack.renderer.render(stack.spec, tlsFingerprint: TLSFixture.old.fingerprint).files)
        #expect(contents(stack.paths.tlsCertificate(TLSFixture.old.fingerprint)) == TLSFixture.old.certificate)
        #expect(contents(stack.paths.tlsKey(TLSFixture.old.fingerprint)) == TLSFixture.old.key.revealed)
        #expect(stack.installedTLS()?.fingerprint == TLSFixture.old.fingerprint && stack.installedTLS()?.intact == true)
    }

    @Test func aRefusedNginxTestLeavesTheInstalledFilesAndConfigurationUntouched() throws {
        let stack = try stack(nginxTest: 1)
        #expect(throws: OrchestratorError.self) { try Executor(stack: stack, started: 0).run(try renewal(stack)) }
        expectOldPairInstalled(stack)
        #expect(runner.calls(startingWith: ["kill"]).isEmpty, "no reload")
        #expect(try stack.store.load()?.updatedAt == "t", "nothing recorded")
    }

    @Test func aKillBetweenTheTwoWritesLeavesTheInstalledPairAndTheNextUpFinishes() throws {
        let stack = try stack(nginxTest: 0)
        // What a SIGKILL after the key's write leaves: the new folder with the key alone.
        try AtomicWriter.write(TLSFixture.renewed.key.revealed, to: stack.paths.tlsKey(TLSFixture.renewed.fingerprint), mode: 0o600)
        expectOldPairInstalled(stack)
        let plan = try renewal(stack)
        #expect(plan.names.first == "write-tls" && plan.names.last == "prune-tls")
        try Executor(stack: stack, started: 0).run(plan)
        #expect(stack.currentFiles() == stack.renderer.render(stack.spec, tlsFingerprint: TLSFixture.renewed.fingerprint).files)
        #expect(contents(stack.paths.tlsCertificate(TLSFixture.renewed.fingerprint)) == TLSFixture.renewed.certificate)
        #expect(stack.installedTLS()?.fingerprint == TLSFixture.renewed.fingerprint && stack.installedTLS()?.intact == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: stack.paths.tlsDir) == [TLSFixture.renewed.fingerprint],
                "the old pair is removed once the new configuration is recorded")
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
        pem = Data(try TestPairs.certificate().utf8)
        info = try #require(TLSFiles.certificateInfo(pem: Array(pem)))
    }

    func stack(now: Date, installed: Bool = true) throws -> Stack {
        var stack = try Fixture.stack(runner: ScriptedRunner(), http: ScriptedHTTP(), stateDir: stateDir)
        stack.spec.proxy.tls = try TLSFixture.spec().proxy.tls
        stack.ports.clock = Clock(now: { now }, monotonic: { 0 }, sleep: { _ in })
        if installed { try TLSFixture.install(installedMaterial, in: stack) }
        return stack
    }

    /// The pair installed: the real certificate, and a key status never reads.
    var installedMaterial: TLSMaterial { TLSMaterial(certificate: String(decoding: pem, as: UTF8.self), key: Secret("key"), info: info) }

    func status(_ stack: Stack, source: Result<TLSMaterial, TLSIssue>? = nil, proxyRunning: Bool = true)
        throws -> (StackStatus.TLSStatus, [String]) {
        var problems: [String] = []
        let tls = try #require(stack.spec.proxy.tls)
        let status = stack.tlsStatus(tls, installed: stack.installedTLS(), source: source, proxyRunning: proxyRunning,
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
        let (status, problems) = try status(stack, source: .success(installedMaterial))
        #expect(status.filesInSync == true && problems.isEmpty)
    }

    @Test func installedCopiesChangedByHandAreAProblemAndNotInSync() throws {
        let stack = try stack(now: info.notBefore)
        try AtomicWriter.write("edited", to: stack.paths.tlsKey(installedMaterial.fingerprint), mode: 0o600)
        let (status, problems) = try status(stack, source: .success(installedMaterial))
        #expect(status.filesInSync == false)
        #expect(problems == ["the certificate or key in tls/\(installedMaterial.fingerprint)/ changed since bgctl up installed them (run bgctl up to write them again)"])
    }

    @Test func filesThatFailTheirCheckAreAProblemNamedByTheirKey() throws {
        let (status, problems) = try status(try stack(now: info.notBefore), source: .failure(TLSIssue(.key, "cannot read k.pem: no such file")))
        #expect(status.filesInSync == nil)
        #expect(problems == ["proxy.tls.key: cannot read k.pem: no such file"])
    }

    @Test func aRunningProxyWithNoCertificateInstalledIsAProblem() throws {
        let (status, problems) = try status(try stack(now: info.notBefore, installed: false))
        #expect(status.notAfter == nil && status.daysLeft == nil)
        #expect(problems == ["no certificate is installed in tls/ for 0.0.0.0:8443 (run bgctl up)"])
        #expect(try self.status(try stack(now: info.notBefore, installed: false), proxyRunning: false).1.isEmpty)
    }

    @Test func unknownValuesAreNullInJSON() throws {
        let data = try JSONEncoder().encode(StackStatus.TLSStatus(listen: "0.0.0.0:443"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["listen", "not_after", "days_left", "files_in_sync"])
        #expect(object["not_after"] is NSNull)
    }
}
