import Foundation
import HTTPClient
import NginxConfigGen
import Support

/// flock(2) on acme/lock: one issuance or certificate install at a time per stack, whether `up`,
/// `certs renew` or the watcher does it. The kernel drops it when its holder dies.
public final class CertificateLock: @unchecked Sendable {
    private let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    /// Waits up to `wait` seconds (0: one try); nil when another holds it after that.
    public static func acquire(_ store: CertificateStore, wait: Double, clock: Clock) throws -> CertificateLock? {
        try FileManager.default.createDirectory(atPath: store.directory, withIntermediateDirectories: true)
        chmod(store.directory, 0o700)
        let fd: Int32
        do {
            fd = try SafeOpen.file(store.lockFile, flags: O_RDWR | O_CREAT, mode: 0o600)
        } catch let error as WriteError {
            throw OrchestratorError.lockUnavailable(path: store.lockFile, reason: error.reason)
        }
        let deadline = clock.monotonic() + wait
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard clock.monotonic() < deadline else {
                close(fd)
                return nil
            }
            clock.sleep(0.05)
        }
        return CertificateLock(fd: fd)
    }

    public func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}

/// The stack's watcher renews proxy.tls.acme's certificate itself. It has no nginx to test with and no
/// Docker socket (it parses text from the internet), so it installs without writing configuration:
/// the pair goes to a folder of its own in tls/, tls/live is moved to it (one rename), nginx's master
/// (PID 1 of the namespace the watcher shares) reloads, and a handshake must then show the new
/// certificate; when it does not within `verifyTimeout` (nginx refused the files and kept the old
/// ones), the link goes back and nginx reloads again. The pair was checked with libcrypto first
/// (parsed, the key belongs to the certificate, valid now), as `up` checks one.
public struct CertificateRenewal: Sendable {
    public enum Event: Sendable, Equatable {
        case renewed(notAfter: Date)
        /// A stored pair the proxy did not serve (an install that was killed, or put back after a
        /// failed check) was installed.
        case installed(notAfter: Date)
        /// An attempt failed; the schedule allows the next from `nextAttempt`.
        case failed(detail: String, nextAttempt: Date?)
        /// A certificate for a stack that serves no HTTPS yet: obtained and stored; `up` installs it.
        case obtainedForUp(notAfter: Date)
        /// The certificate the proxy serves expires within `RenewalPolicy.urgentDays` days.
        case expiring(daysLeft: Int, notAfter: Date)
        /// The proxy served another certificate than tls/live names (an install killed before its
        /// reload): it was reloaded.
        case repaired
    }

    public var issuer: CertificateIssuer
    /// Where the proxy answers HTTPS on this host (its published TLS address) and the name to ask for.
    public var tlsHost: String
    public var tlsPort: Int
    public var reload: @Sendable () -> Bool
    public var served: @Sendable () -> String?
    public var verifyTimeout: Double = 10
    /// The pair a repair reload was sent for: one reload per pair, never one every tick.
    private var repaired: String?

    public init(issuer: CertificateIssuer, tlsHost: String, tlsPort: Int, reload: @escaping @Sendable () -> Bool,
                served: (@Sendable () -> String?)? = nil) {
        self.issuer = issuer
        self.tlsHost = tlsHost
        self.tlsPort = tlsPort
        self.reload = reload
        let name = issuer.names.first ?? "localhost"
        self.served = served ?? { HTTPClient.peerCertificate(host: tlsHost, port: tlsPort, name: name) }
    }

    /// One look: install a stored pair the proxy does not serve, renew when due and allowed, repair a
    /// link the proxy has not loaded, say when the served certificate's expiry is close. Skipped (no
    /// events) while `up` or `certs renew` holds the certificate lock. The names and directory are those
    /// `up` applied: it recreates the watcher when they change, and a watcher whose spec file says
    /// otherwise does not renew at all (`StackPlan.acmeSettings`).
    public mutating func tick() -> [Event] {
        let store = issuer.store
        guard let lock = try? CertificateLock.acquire(store, wait: 0, clock: issuer.clock) else { return [] }
        defer { lock.release() }
        var events: [Event] = []
        let now = issuer.clock.now()
        let current = store.current()
        if let installed = installedFingerprint(), let current, installed != current.fingerprint,
           let material = store.currentMaterial(now: now)?.1, RenewalPolicy.mayAttempt(store.renewal(), at: now) {
            do {
                try install(material, previous: installed)
                events.append(.installed(notAfter: material.info.notAfter))
            } catch {
                events.append(failure("acme: installing the stored certificate failed: \(error)"))
                return events + expiring()
            }
        }
        let installed = installedFingerprint()
        switch issuer.need() {
        case .none:
            if let installed, installed == current?.fingerprint, repaired != installed, servedMismatch(installed) != nil, reload() {
                repaired = installed
                events.append(.repaired)
            }
        case .renewal, .issuance:
            guard RenewalPolicy.mayAttempt(store.renewal(), at: now) else { break }
            do {
                let material = try issuer.obtain(deadline: Double(issuer.acme.timeout.milliseconds) / 1000).1
                if installed == nil {
                    events.append(.obtainedForUp(notAfter: material.info.notAfter))
                } else {
                    try install(material, previous: installed)
                    events.append(.renewed(notAfter: material.info.notAfter))
                }
            } catch OrchestratorError.acmeFailed(let detail, let next) {
                events.append(.failed(detail: detail, nextAttempt: next.flatMap(ISOTime.parse)))
            } catch OrchestratorError.cancelled {
                return events
            } catch {
                events.append(failure("acme: installing the renewed certificate failed: \(error)"))
            }
        }
        return events + expiring()
    }

    /// The folder tls/live points to, when it is one a pair can have.
    public func installedFingerprint() -> String? {
        issuer.files.readLink(issuer.workspace.tlsLink).flatMap { TLSFiles.isFingerprint($0) ? $0 : nil }
    }

    /// The validity of the certificate tls/live names: what the proxy serves (or will at its next reload).
    public func installedCertificate() -> CertificateInfo? {
        guard let fingerprint = installedFingerprint(),
              let pem = try? issuer.files.read(issuer.workspace.tlsDir + "/\(fingerprint)/cert.pem", limit: TLSFiles.maxFileBytes) else { return nil }
        return TLSFiles.certificateInfo(pem: [UInt8](pem))
    }

    /// True when the proxy's link names the stored pair.
    public var servesStored: Bool {
        guard let installed = installedFingerprint() else { return false }
        return installed == issuer.store.current()?.fingerprint
    }

    private func expiring() -> [Event] {
        guard let info = installedCertificate() else { return [] }
        let left = info.notAfter.timeIntervalSince(issuer.clock.now())
        guard left <= Double(RenewalPolicy.urgentDays) * 86_400 else { return [] }
        return [.expiring(daysLeft: max(Int(left / 86_400), 0), notAfter: info.notAfter)]
    }

    /// A failed install, on the schedule like a failed issuance (no reload every tick for a pair nginx refuses).
    private func failure(_ detail: String) -> Event {
        let store = issuer.store
        let now = issuer.clock.now()
        let record = RenewalPolicy.failed(store.renewal(), at: now, error: detail, retryAfter: nil, rateLimited: false,
                                          notAfter: installedCertificate()?.notAfter)
        try? store.saveRenewal(record)
        return .failed(detail: detail, nextAttempt: record.nextAttempt.flatMap(ISOTime.parse))
    }

    /// Nil when the proxy serves the pair `fingerprint` names (or cannot be asked); else what it serves.
    func servedMismatch(_ fingerprint: String) -> String? {
        guard let expected = try? issuer.files.read(issuer.workspace.tlsDir + "/\(fingerprint)/cert.pem", limit: TLSFiles.maxFileBytes),
              let want = HTTPClient.firstCertificateBlock(String(decoding: expected, as: UTF8.self)),
              let pem = served(), let got = HTTPClient.firstCertificateBlock(pem) else { return nil }
        return got == want ? nil : pem
    }

    /// The pair into tls/<fingerprint>/, the link moved, a reload, and the handshake checked; undone
    /// (link back, reload) when the proxy does not serve it.
    func install(_ material: TLSMaterial, previous: String?) throws {
        let files = issuer.files
        let folder = issuer.workspace.tlsDir + "/" + material.fingerprint
        try files.createDirectory(folder)
        try files.write(material.key.revealed, to: folder + "/key.pem", mode: 0o600)
        try files.write(material.certificate, to: folder + "/cert.pem", mode: 0o644)
        try files.replaceLink(issuer.workspace.tlsLink, target: material.fingerprint)
        let want = HTTPClient.firstCertificateBlock(material.certificate)
        guard reload() else {
            try rollBack(previous)
            throw OrchestratorError.reloadFailed(detail: "the signal to nginx's master (PID 1) could not be sent")
        }
        let deadline = issuer.clock.monotonic() + verifyTimeout
        while issuer.clock.monotonic() < deadline {
            if let pem = served(), HTTPClient.firstCertificateBlock(pem) == want {
                // Served: the pairs before it are no longer needed (nginx holds what it loaded in memory).
                if let previous, previous != material.fingerprint, TLSFiles.isFingerprint(previous) {
                    try? files.remove(issuer.workspace.tlsDir + "/" + previous)
                }
                issuer.store.prune()
                return
            }
            issuer.clock.sleep(0.25)
        }
        try rollBack(previous)
        throw OrchestratorError.reloadFailed(detail: "nginx did not serve the renewed certificate \(Int(verifyTimeout)) s after the reload (it keeps files it cannot load); the previous certificate was put back")
    }

    private func rollBack(_ previous: String?) throws {
        if let previous { try issuer.files.replaceLink(issuer.workspace.tlsLink, target: previous) } else {
            try issuer.files.remove(issuer.workspace.tlsLink)
        }
        _ = reload()
    }
}
