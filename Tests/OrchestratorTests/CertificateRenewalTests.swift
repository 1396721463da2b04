import ACME
import Foundation
import HTTPClient
import Testing
@testable import NginxConfigGen
@testable import Orchestrator

/// The watcher's look at the certificate (`CertificateRenewal.tick`), with real pairs on disk and a
/// stand-in for nginx that loads what tls/live names when it reloads (or refuses to).
@Suite struct CertificateRenewalTests {
    /// nginx as the renewal sees it: the certificate it serves, changed only by a reload it accepts.
    final class Proxy: @unchecked Sendable {
        private let lock = NSLock()
        private var servedPEM: String?
        private var reloadCount = 0
        var accepts = true
        let tlsDir: String

        init(tlsDir: String) { self.tlsDir = tlsDir }

        var served: String? { lock.withLock { servedPEM } }
        var reloads: Int { lock.withLock { reloadCount } }

        func serve(_ fingerprint: String) {
            let pem = try? String(contentsOfFile: tlsDir + "/\(fingerprint)/cert.pem", encoding: .utf8)
            lock.withLock { servedPEM = pem }
        }

        func reload() -> Bool {
            lock.withLock { reloadCount += 1 }
            if accepts, let linked = try? FileManager.default.destinationOfSymbolicLink(atPath: tlsDir + "/live") { serve(linked) }
            return true
        }
    }

    /// A CA that is never there: a test that reaches it says so by the requests it counts.
    final class NoCA: ACMETransport, @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        var requests: Int { lock.withLock { count } }
        func perform(_ request: HTTPRequest) -> Result<HTTPResponse, HTTPError> {
            lock.withLock { count += 1 }
            return .failure(HTTPError(kind: .connect, message: "no CA in this test"))
        }
    }

    struct World {
        let dir: String
        let workspace: ACMEWorkspace
        let store: CertificateStore
        let proxy: Proxy
        let ca: NoCA
        var renewal: CertificateRenewal

        init() {
            dir = Fixture.tempDir()
            workspace = ACMEWorkspace(storeDir: dir + "/acme", challengeDir: dir + "/challenge", tlsDir: dir + "/tls")
            store = CertificateStore(directory: workspace.storeDir, files: LocalFileSystem())
            proxy = Proxy(tlsDir: workspace.tlsDir)
            ca = NoCA()
            let fake = FakeClock()
            // Real wall time (the pairs are made now), a monotonic clock that only moves when slept.
            let clock = Clock(now: { Date() }, monotonic: { fake.seconds }, sleep: { fake.clock.sleep($0) })
            let issuer = CertificateIssuer(acme: ACMESpec(), names: ["shop.example.com"], workspace: workspace, files: LocalFileSystem(),
                                           clock: clock, transport: ca, caFile: nil, cancelled: { false }, report: { _ in })
            let proxy = self.proxy
            renewal = CertificateRenewal(issuer: issuer, tlsHost: "127.0.0.1", tlsPort: 443, reload: { proxy.reload() },
                                         served: { proxy.served })
        }

        /// The pair in the store (current) and, when `linked`, in tls/ with tls/live at it.
        func store(_ material: TLSMaterial, linked: Bool) throws {
            try store.install(material, names: ["shop.example.com"], directory: ACMESpec.letsEncrypt, issuedAt: "t", issuer: nil)
            let folder = workspace.tlsDir + "/" + material.fingerprint
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try material.certificate.write(toFile: folder + "/cert.pem", atomically: true, encoding: .utf8)
            try material.key.revealed.write(toFile: folder + "/key.pem", atomically: true, encoding: .utf8)
            if linked {
                try? FileManager.default.removeItem(atPath: workspace.tlsLink)
                try FileManager.default.createSymbolicLink(atPath: workspace.tlsLink, withDestinationPath: material.fingerprint)
            }
        }

        var linked: String? { try? FileManager.default.destinationOfSymbolicLink(atPath: workspace.tlsLink) }
    }

    static func pair(days: Int = 60) throws -> TLSMaterial { try TestPairs.material(days: days) }

    @Test func aStoredPairTheProxyDoesNotServeIsInstalledAndTheOneBeforePruned() throws {
        var world = World()
        defer { try? FileManager.default.removeItem(atPath: world.dir) }
        let old = try Self.pair(), new = try Self.pair()
        try world.store(old, linked: true)
        world.proxy.serve(old.fingerprint)
        try world.store(new, linked: false)  // what an install killed before its link leaves
        let events = world.renewal.tick()
        #expect(events == [.installed(notAfter: new.info.notAfter)])
        #expect(world.linked == new.fingerprint && world.proxy.served == new.certificate && world.proxy.reloads == 1)
        #expect(!FileManager.default.fileExists(atPath: world.workspace.tlsDir + "/" + old.fingerprint))
        #expect(try FileManager.default.contentsOfDirectory(atPath: world.store.pairsDir) == [new.fingerprint])
        #expect(world.ca.requests == 0)
        #expect(world.renewal.servesStored)
    }

    @Test func aPairNginxDoesNotLoadIsPutBackAndNotTriedAgainBeforeTheSchedule() throws {
        var world = World()
        defer { try? FileManager.default.removeItem(atPath: world.dir) }
        let old = try Self.pair(), new = try Self.pair()
        try world.store(old, linked: true)
        world.proxy.serve(old.fingerprint)
        try world.store(new, linked: false)
        world.proxy.accepts = false
        let first = world.renewal.tick()
        guard case .failed(let detail, let next)? = first.first else { Issue.record("a failure: \(first)"); return }
        #expect(detail.contains("did not serve the renewed certificate") && next != nil)
        #expect(world.linked == old.fingerprint, "the link goes back")
        #expect(world.proxy.reloads == 2, "one reload for the new pair, one for the old")
        #expect(world.store.renewal().failures == 1)
        #expect(world.renewal.tick() == [])
        #expect(world.proxy.reloads == 2, "no reload on the next look: the schedule waits")
    }

    @Test func aRepairReloadIsSentOncePerPair() throws {
        var world = World()
        defer { try? FileManager.default.removeItem(atPath: world.dir) }
        let old = try Self.pair(), new = try Self.pair()
        try world.store(old, linked: true)
        world.proxy.serve(old.fingerprint)
        try world.store(new, linked: true)  // linked, but nginx was never reloaded for it
        world.proxy.accepts = false
        #expect(world.renewal.tick() == [.repaired])
        #expect(world.renewal.tick() == [])
        #expect(world.proxy.reloads == 1)
    }

    @Test func theExpiryWarningIsOfTheServedCertificate() throws {
        var world = World()
        defer { try? FileManager.default.removeItem(atPath: world.dir) }
        let served = try Self.pair(days: 3)
        try world.store(served, linked: true)
        world.proxy.serve(served.fingerprint)
        // Three days of three: not due (a third of the lifetime), but within the 7 days that alert.
        #expect(world.renewal.tick() == [.expiring(daysLeft: 2, notAfter: served.info.notAfter)])
        #expect(world.ca.requests == 0)
    }

    @Test func aRenewalThatFailsIsScheduledFiveMinutesOn() throws {
        var world = World()
        defer { try? FileManager.default.removeItem(atPath: world.dir) }
        let served = try Self.pair()
        try world.store(served, linked: true)
        world.proxy.serve(served.fingerprint)
        // The record moved to day 70 of a 90-day certificate: due.
        var current = try #require(world.store.current())
        current.notBefore = ISOTime.format(Date().addingTimeInterval(-70 * 86_400))
        current.notAfter = ISOTime.format(Date().addingTimeInterval(20 * 86_400))
        try JSONEncoder().encode(current).write(to: URL(fileURLWithPath: world.store.currentFile))
        let events = world.renewal.tick()
        #expect(world.ca.requests > 0)
        guard case .failed(let detail, let next?)? = events.first, events.count == 1 else { Issue.record("one failed renewal: \(events)"); return }
        #expect(detail.hasPrefix("acme: could not fetch the ACME directory"))
        #expect(abs(next.timeIntervalSinceNow - 300) < 30)
        #expect(world.store.renewal().failures == 1)
        let asked = world.ca.requests
        #expect(world.renewal.tick() == [] && world.ca.requests == asked, "not again before the next attempt")
        #expect(world.linked == served.fingerprint && world.proxy.reloads == 0)
    }
}
