import Foundation
import Testing
@testable import NginxConfigGen
@testable import Orchestrator

/// When a certificate renews, how long a failure waits, and how each figure sits at its boundary.
@Suite struct RenewalPolicyTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    static let day = 86_400.0

    @Test(arguments: [
        (90.0, 30.0),       // Let's Encrypt's 90 days: 30 days before expiry
        (1826.0, 30.0),     // Pebble's five years: still 30 days
        (6.0, 2.0),         // a six-day certificate: a third of its life
        (45.0, 15.0),       // under 90 days a third is less than 30
    ])
    func theWindowIsThirtyDaysOrAThirdOfTheLifetimeWhicheverIsShorter(_ lifetimeDays: Double, _ windowDays: Double) {
        let end = Self.start.addingTimeInterval(lifetimeDays * Self.day)
        #expect(abs(RenewalPolicy.renewalWindow(notBefore: Self.start, notAfter: end) - windowDays * Self.day) < 1)
    }

    static func current(days: Double, names: [String] = ["shop.example.com"], directory: String = ACMESpec.letsEncrypt) -> CertificateStore.Current {
        CertificateStore.Current(fingerprint: String(repeating: "a", count: 64), names: names, directory: directory, issuedAt: "t",
                                 notBefore: ISOTime.format(start), notAfter: ISOTime.format(start.addingTimeInterval(days * day)), issuer: nil)
    }

    @Test func aNinetyDayCertificateIsDueExactlyThirtyDaysBeforeExpiryAndNotASecondEarlier() {
        let current = Self.current(days: 90)
        let due = Self.start.addingTimeInterval(60 * Self.day)
        #expect(RenewalPolicy.need(current: current, valid: true, names: current.names, directory: current.directory, at: due) == .renewal)
        #expect(RenewalPolicy.need(current: current, valid: true, names: current.names, directory: current.directory,
                                   at: due.addingTimeInterval(-1)) == .none(renewAt: due))
    }

    @Test func newNamesAnotherDirectoryOrAnInvalidPairNeedAFreshIssuance() {
        let current = Self.current(days: 90)
        let now = Self.start.addingTimeInterval(Self.day)
        #expect(RenewalPolicy.need(current: nil, valid: false, names: ["a.example"], directory: ACMESpec.letsEncrypt, at: now)
                == .issuance(reason: "no certificate yet"))
        #expect(RenewalPolicy.need(current: current, valid: true, names: ["shop.example.com", "www.shop.example.com"],
                                   directory: current.directory, at: now) == .issuance(reason: "proxy.hosts changed"))
        #expect(RenewalPolicy.need(current: current, valid: true, names: current.names, directory: "https://other.example/dir", at: now)
                == .issuance(reason: "proxy.tls.acme.directory changed"))
        #expect(RenewalPolicy.need(current: current, valid: false, names: current.names, directory: current.directory, at: now)
                == .issuance(reason: "the certificate is no longer valid"))
    }

    @Test func theSameNamesInAnotherOrderNeedNothing() {
        let current = Self.current(days: 90, names: ["a.example", "b.example"])
        let need = RenewalPolicy.need(current: current, valid: true, names: ["b.example", "a.example"], directory: current.directory,
                                      at: Self.start.addingTimeInterval(Self.day))
        #expect(need == .none(renewAt: Self.start.addingTimeInterval(60 * Self.day)))
    }

    @Test func failuresBackOffFiveFifteenSixtyMinutesThreeHoursThenTwelveHours() {
        var record = RenewalRecord()
        var waits: [Double] = []
        for _ in 0..<7 {
            record = RenewalPolicy.failed(record, at: Self.start, error: "e", retryAfter: nil, rateLimited: false)
            waits.append(ISOTime.parse(record.nextAttempt!)!.timeIntervalSince(Self.start))
        }
        #expect(waits == [300, 900, 3_600, 10_800, 43_200, 43_200, 43_200])
        #expect(record.failures == 7 && record.lastError == "e")
    }

    @Test func aLongerRetryAfterWinsAndIsCappedAtSevenDays() {
        let honoured = RenewalPolicy.failed(RenewalRecord(), at: Self.start, error: "e", retryAfter: 3_601, rateLimited: true)
        #expect(ISOTime.parse(honoured.nextAttempt!)!.timeIntervalSince(Self.start) == 3_601 && honoured.rateLimited == true)
        let shorter = RenewalPolicy.failed(RenewalRecord(), at: Self.start, error: "e", retryAfter: 299, rateLimited: true)
        #expect(ISOTime.parse(shorter.nextAttempt!)!.timeIntervalSince(Self.start) == 300)
        let capped = RenewalPolicy.failed(RenewalRecord(), at: Self.start, error: "e", retryAfter: 30 * Self.day, rateLimited: true)
        #expect(ISOTime.parse(capped.nextAttempt!)!.timeIntervalSince(Self.start) == 7 * Self.day)
        let nonsense = RenewalPolicy.failed(RenewalRecord(), at: Self.start, error: "e", retryAfter: .infinity, rateLimited: true)
        #expect(ISOTime.parse(nonsense.nextAttempt!)!.timeIntervalSince(Self.start) == 300)
    }

    @Test func anAttemptIsAllowedFromTheNextAttemptOnAndNotASecondBefore() {
        let record = RenewalPolicy.failed(RenewalRecord(), at: Self.start, error: "e", retryAfter: nil, rateLimited: false)
        #expect(!RenewalPolicy.mayAttempt(record, at: Self.start.addingTimeInterval(299)))
        #expect(RenewalPolicy.mayAttempt(record, at: Self.start.addingTimeInterval(300)))
        #expect(RenewalPolicy.mayAttempt(RenewalRecord(), at: Self.start))
        #expect(RenewalPolicy.succeeded(at: Self.start).failures == 0)
    }
}

/// The schedule's guards against a CA, a file or a clock that says something unreasonable.
@Suite struct RenewalScheduleGuardTests {
    static let start = RenewalPolicyTests.start
    static let day = RenewalPolicyTests.day

    @Test func aLongRetryAfterNeverReachesPastAQuarterOfTheServingCertificatesValidity() {
        let notAfter = Self.start.addingTimeInterval(4 * Self.day)
        let record = RenewalPolicy.failed(RenewalRecord(), at: Self.start, error: "e", retryAfter: 7 * Self.day, rateLimited: true, notAfter: notAfter)
        #expect(record.nextAttempt == ISOTime.format(Self.start.addingTimeInterval(Self.day)))
    }

    @Test func nearExpiryTheWaitIsNeverUnderFiveMinutes() {
        let notAfter = Self.start.addingTimeInterval(60)
        let record = RenewalPolicy.failed(RenewalRecord(), at: Self.start, error: "e", retryAfter: nil, rateLimited: false, notAfter: notAfter)
        #expect(record.nextAttempt == ISOTime.format(Self.start.addingTimeInterval(300)))
    }

    @Test func aNegativeFailureCountReadFromDiskCountsFromZero() {
        var damaged = RenewalRecord()
        damaged.failures = -5
        let record = RenewalPolicy.failed(damaged, at: Self.start, error: "e", retryAfter: nil, rateLimited: false)
        #expect(record.failures == 1 && record.nextAttempt == ISOTime.format(Self.start.addingTimeInterval(300)))
    }

    @Test func aNextAttemptFurtherThanAnyWaitTheScheduleKeepsIsNoReasonToWait() {
        var record = RenewalRecord()
        record.nextAttempt = ISOTime.format(Self.start.addingTimeInterval(RenewalPolicy.maxWait + 3_600))
        #expect(!RenewalPolicy.mayAttempt(record, at: Self.start), "exactly the longest wait and its hour of slack: wait")
        record.nextAttempt = ISOTime.format(Self.start.addingTimeInterval(RenewalPolicy.maxWait + 3_601))
        #expect(RenewalPolicy.mayAttempt(record, at: Self.start), "a second past it: a clock or a file that was wrong")
    }
}

/// What the CA issued must certify exactly the names ordered.
@Suite struct IssuedNamesTests {
    static func certificate(sans: [String]) throws -> String { try TestPairs.certificate(days: 2, sans: sans) }

    @Test func theSameNamesInAnotherOrderAndCaseAreAccepted() throws {
        #expect(CertificateIssuer.namesProblem(try Self.certificate(sans: ["www.shop.example.com", "Shop.example.com"]),
                                               names: ["shop.example.com", "www.shop.example.com"]) == nil)
    }

    @Test(arguments: [["shop.example.com"], ["shop.example.com", "www.shop.example.com", "evil.example"], []])
    func aCertificateForOtherNamesIsRefused(_ sans: [String]) throws {
        let problem = CertificateIssuer.namesProblem(try Self.certificate(sans: sans), names: ["shop.example.com", "www.shop.example.com"])
        #expect(problem?.hasSuffix("not shop.example.com, www.shop.example.com; refusing to install it") == true, "\(problem ?? "nil")")
    }
}

/// The store: a pair is current only once whole; keys are private; what a kill leaves is harmless.
@Suite struct CertificateStoreTests {
    /// A real pair: the store checks what it reads back.
    static func pair() throws -> TLSMaterial { try TestPairs.material() }

    @Test func anInstalledPairIsCurrentWithAPrivateKeyAndReadsBackChecked() throws {
        let dir = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = CertificateStore(directory: dir + "/acme", files: LocalFileSystem())
        let material = try Self.pair()
        try store.install(material, names: ["shop.example.com"], directory: ACMESpec.letsEncrypt, issuedAt: "t", issuer: "CN=test")
        let (current, read) = try #require(store.currentMaterial(now: Date()))
        #expect(current.fingerprint == material.fingerprint && read.fingerprint == material.fingerprint)
        var st = stat()
        #expect(stat(store.pairFolder(material.fingerprint) + "/key.pem", &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(stat(store.directory, &st) == 0 && st.st_mode & 0o777 == 0o700)
        #expect(!(String(data: try Data(contentsOf: URL(fileURLWithPath: store.currentFile)), encoding: .utf8) ?? "").contains("PRIVATE KEY"))
    }

    @Test func aPairKilledBeforeItsRenameIsNeverCurrentAndThePruneRemovesIt() throws {
        let dir = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = CertificateStore(directory: dir + "/acme", files: LocalFileSystem())
        let first = try Self.pair()
        try store.install(first, names: ["shop.example.com"], directory: ACMESpec.letsEncrypt, issuedAt: "t", issuer: nil)
        // What a kill between writing the key and renaming the folder leaves: a staging folder, key only.
        let staging = store.pairsDir + "/.new-0123456789abcdef"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        try "-----BEGIN PRIVATE KEY-----\n".write(toFile: staging + "/key.pem", atomically: true, encoding: .utf8)
        #expect(store.currentMaterial(now: Date())?.0.fingerprint == first.fingerprint)
        store.prune()
        #expect((try FileManager.default.contentsOfDirectory(atPath: store.pairsDir)) == [first.fingerprint])
    }

    @Test func aCurrentFileNamingNoFingerprintIsNoCertificate() throws {
        let dir = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = CertificateStore(directory: dir, files: LocalFileSystem())
        try #"{"fingerprint":"../../etc","names":[],"directory":"d","issued_at":"t","not_before":"t","not_after":"t"}"#
            .write(toFile: store.currentFile, atomically: true, encoding: .utf8)
        #expect(store.current() == nil && store.currentMaterial(now: Date()) == nil)
    }
}

/// What `up` plans for proxy.tls.acme behind the front: plain HTTP and the challenge before the first
/// certificate; the pair and tls/live after; nothing when the installed pair is the stored one.
@Suite struct ACMEUpPlanTests {
    static func spec() throws -> DeploymentSpec {
        var spec = try FrontPlanTests.spec()
        spec.proxy.tls = TLSSpec(acme: ACMESpec())
        spec.proxy.tls?.listen = ListenAddress(host: "0.0.0.0", port: 8443)
        return spec
    }

    /// A front with HTTPS on which blog serves blog.example.com (shop joins it).
    static func registry() throws -> FrontRegistry {
        let blog = try FrontPlanTests.spec("blog", hosts: ["blog.example.com"])
        return FrontRegistry.founded(by: try spec(), container: "front").claiming(blog, at: "t")
    }

    static func frontInfo(networks: Set<String>) throws -> ContainerInfo {
        var info = World.container(Stack.frontContainer(try registry(), front: FrontPlanTests.front, spec: try spec(), pull: .never), health: nil)
        info.networks = networks
        return info
    }

    static func joined(_ spec: DeploymentSpec, tls: TLSMaterial?) throws -> Observed {
        var observed = try FrontPlanTests.joining()
        observed.state = StackState(project: spec.project, live: .blue, updatedAt: "t", lastSwitch: nil)
        observed.containers["front"] = try Self.frontInfo(networks: ["bridge", "blog-net", "shop-net"])
        observed.liveFiles = World.renderer.render(spec, tlsFingerprint: tls?.fingerprint).files
        observed.route = .route(Route(live: .blue))
        observed.tlsFingerprint = tls?.fingerprint
        let paths = FrontPlanTests.paths(spec)
        observed.existingPaths = paths.ownedPaths + [paths.challengeDir]
        observed.tlsEntries = tls.map { [$0.fingerprint, TLSLink.name] } ?? []
        return observed
    }

    static func plan(_ observed: Observed, tls: TLSMaterial?) throws -> Plan {
        let spec = try spec()
        let registry = try Self.registry().claiming(spec, at: "t")
        return try UpPlanner.plan(.init(pull: .never, specFile: nil, tls: tls, front: registry), spec: spec,
                                  paths: FrontPlanTests.paths(spec), renderer: World.renderer, observed: observed)
    }

    @Test func withoutACertificateUpIsNotRefusedAndServesTheChallengeOnPlainHTTP() throws {
        var observed = try FrontPlanTests.joining()
        observed.containers["front"] = try Self.frontInfo(networks: ["bridge", "blog-net"])
        let plan = try Self.plan(observed, tls: nil)
        guard let stage = plan.steps.first(where: { $0.name == "stage" }), case .stageConfig(let staged) = stage.action else {
            Issue.record("the part is staged: \(plan.names)"); return
        }
        let part = try #require(staged.files[RenderedConfig.siteFile])
        #expect(part.contains("acme-challenge") && !part.contains("ssl_certificate"))
        #expect(!plan.names.contains("write-tls") && !plan.names.contains("link-tls"))
        guard case .createDirectories(let folders) = plan.steps.first(where: { $0.name == "create-folders" })?.action else {
            Issue.record("creates the folders: \(plan.names)"); return
        }
        #expect(folders.contains(FrontPlanTests.paths(try Self.spec()).challengeDir))
    }

    @Test func aNewPairIsWrittenLinkedThenTestedAndReloaded() throws {
        let plan = try Self.plan(Self.joined(Self.spec(), tls: TLSFixture.old), tls: TLSFixture.renewed)
        #expect(plan.names.starts(with: ["write-tls", "link-tls", "stage", "nginx-test", "install", "reload", "verify"]), "\(plan.names)")
        #expect(plan.steps[1].action == .linkTLS(TLSFixture.renewed.fingerprint))
        #expect(plan.names.suffix(2) == ["record", "prune-tls"])
    }

    @Test func theStoredPairAlreadyInstalledIsNothingToDo() throws {
        let plan = try Self.plan(Self.joined(Self.spec(), tls: TLSFixture.old), tls: TLSFixture.old)
        #expect(plan.nothingToDo != nil, "\(plan.names) \(plan.steps.map(\.description))")
    }

    @Test func theFirstCertificateChangesThePartToServeHTTPS() throws {
        let plan = try Self.plan(Self.joined(Self.spec(), tls: nil), tls: TLSFixture.old)
        #expect(plan.names.starts(with: ["write-tls", "link-tls", "stage", "nginx-test", "install", "reload"]), "\(plan.names)")
        guard case .stageConfig(let staged) = plan.steps[2].action else { Issue.record("staged"); return }
        #expect(staged.files[RenderedConfig.siteFile]?.contains("ssl_certificate /bgctl/conf/projects/shop/tls/live/cert.pem;") == true)
    }

    @Test func thePruneKeepsTheLink() throws {
        let dir = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var spec = try Fixture.spec()
        spec.stateDir = dir
        spec.proxy.tls = TLSSpec(acme: ACMESpec())
        let paths = StackPaths(spec: spec, specDirectory: "/")
        for name in ["aaaa", "bbbb"] { try FileManager.default.createDirectory(atPath: paths.tlsDir + "/" + name, withIntermediateDirectories: true) }
        try FileManager.default.createSymbolicLink(atPath: paths.tlsLink, withDestinationPath: "bbbb")
        let stack = Stack(spec: spec, paths: paths, ports: Ports(runner: ScriptedRunner(), http: ScriptedHTTP(), accessLog: { _ in ScriptedLog() }),
                          renderer: World.renderer, environment: [:], report: { _ in })
        stack.pruneTLS(keep: "bbbb")
        #expect(try FileManager.default.contentsOfDirectory(atPath: paths.tlsDir).sorted() == ["bbbb", "live"])
    }

    @Test func theWatcherMountsTheStoreTheChallengeAndTLSButNeverTheConfiguration() throws {
        let spec = try Self.spec()
        let paths = FrontPlanTests.paths(spec)
        let config = StackPlan.watcherContainer(spec, paths: paths, specFile: "/srv/shop/bgctl.yaml", pull: .never, acmeCAFile: "/srv/shop/ca.pem")
        // Exactly these: of the proxy's folder only the route, the challenge folder and tls/, never the configuration.
        #expect(config.mounts == ["/srv/shop/bgctl.yaml:/bgctl/bgctl.yaml:ro", "\(paths.logsDir):/bgctl/logs", "\(paths.watcherDir):/bgctl/watcher",
                                  "\(paths.routeDir):/bgctl/route", "\(paths.eventsDir):/bgctl/events:ro", "\(paths.acmeDir):/bgctl/acme", "\(paths.challengeDir):/bgctl/acme-challenge",
                                  "\(paths.tlsDir):/bgctl/tls", "/srv/shop/ca.pem:/bgctl/acme-ca.pem:ro"])
        #expect(config.command.suffix(6) == ["--acme", "/bgctl", "--acme-settings", StackPlan.acmeSettings(spec, try #require(spec.proxy.tls?.acme)),
                                             "--acme-ca", "/bgctl/acme-ca.pem"])
    }

    @Test func theWatcherIsMadeAnewWhenTheNamesOrTheCAChange() throws {
        let spec = try Self.spec()
        let paths = FrontPlanTests.paths(spec)
        let base = StackPlan.watcherContainer(spec, paths: paths, specFile: "/srv/shop/bgctl.yaml", pull: .never).fingerprint
        var hosts = spec
        hosts.proxy.hosts.append("www.shop.example.com")
        func with(_ acme: ACMESpec) -> DeploymentSpec {
            var changed = spec
            changed.proxy.tls = TLSSpec(acme: acme)
            changed.proxy.tls?.listen = spec.proxy.tls!.listen
            return changed
        }
        let directory = with(ACMESpec(directory: "https://acme-staging-v02.api.letsencrypt.org/directory"))
        let email = with(ACMESpec(email: "ops@shop.example.com"))
        #expect(StackPlan.watcherContainer(with(ACMESpec()), paths: paths, specFile: "/srv/shop/bgctl.yaml", pull: .never).fingerprint == base)
        for changed in [hosts, directory, email] {
            #expect(StackPlan.watcherContainer(changed, paths: paths, specFile: "/srv/shop/bgctl.yaml", pull: .never).fingerprint != base)
        }
    }
}
