import ACME
import Foundation
import HTTPClient
import NginxConfigGen
import Support
import X509

/// The outcome of `up`'s or `certs renew`'s look at proxy.tls.acme, for the CLI to print.
public struct CertificateOutcome: Sendable, Equatable {
    public enum Result: String, Sendable {
        /// The current certificate is good; nothing was asked of the CA.
        case current
        /// A first certificate (or one for new names) was obtained and installed.
        case issued
        /// The certificate was renewed and installed.
        case renewed
        /// The stored certificate, which the proxy did not serve (an install killed or put back), was installed.
        case installed
        /// An attempt failed or was not allowed yet; the certificate before (if any) still serves.
        case pending
        /// A dry run: what would be asked of the CA.
        case planned
    }

    public var result: Result
    public var names: [String]
    public var notAfter: Date?
    public var renewAt: Date?
    /// When the schedule allows the next attempt, after a failure.
    public var nextAttempt: Date?
    public var detail: String?
}

/// Where an issuance reads and writes: the store, the challenge folder the proxy serves, and the
/// proxy's tls/ folder. The host's paths for `up` and `certs renew`; the watcher's mounts inside its
/// container.
public struct ACMEWorkspace: Sendable, Equatable {
    public var storeDir: String
    public var challengeDir: String
    public var tlsDir: String
    public var tlsLink: String { tlsDir + "/" + TLSLink.name }

    public init(storeDir: String, challengeDir: String, tlsDir: String) {
        self.storeDir = storeDir
        self.challengeDir = challengeDir
        self.tlsDir = tlsDir
    }

    public init(_ paths: StackPaths) {
        self.init(storeDir: paths.acmeDir, challengeDir: paths.challengeDir, tlsDir: paths.tlsDir)
    }
}

/// Obtains a certificate for a project's names by HTTP-01 and stores it as current. Touches no proxy.
public struct CertificateIssuer: Sendable {
    public var acme: ACMESpec
    public var names: [String]
    public var workspace: ACMEWorkspace
    public var files: FileSystem
    public var clock: Clock
    public var transport: ACMETransport
    /// proxy.tls.acme.ca_file as this process reads it.
    public var caFile: String?
    public var cancelled: @Sendable () -> Bool
    public var report: Reporter

    public init(acme: ACMESpec, names: [String], workspace: ACMEWorkspace, files: FileSystem, clock: Clock, transport: ACMETransport,
                caFile: String?, cancelled: @escaping @Sendable () -> Bool, report: @escaping Reporter) {
        self.acme = acme
        self.names = names
        self.workspace = workspace
        self.files = files
        self.clock = clock
        self.transport = transport
        self.caFile = caFile
        self.cancelled = cancelled
        self.report = report
    }

    public var store: CertificateStore { CertificateStore(directory: workspace.storeDir, files: files) }

    /// What the stored pair needs now (see `RenewalPolicy.need`).
    public func need() -> RenewalPolicy.Need {
        let now = clock.now()
        return RenewalPolicy.need(current: store.current(), valid: store.currentMaterial(now: now) != nil, names: names,
                                  directory: acme.directory, at: now)
    }

    /// Obtains and stores the certificate, bounded by `deadline` seconds. The schedule on disk records
    /// the outcome (`acmeFailed` carries the next attempt); a signal stops it (`cancelled`) without a record.
    public func obtain(deadline: Double) throws -> (CertificateStore.Current, TLSMaterial) {
        let store = self.store
        report(.step("obtain a certificate for \(names.joined(separator: ", ")) from \(Redact.url(acme.directory)) (ACME, HTTP-01)"))
        do {
            let key: ACMEAccountKey
            if let pem = try store.accountKeyPEM() {
                key = try ACMEAccountKey(pem: pem)
            } else {
                key = ACMEAccountKey.generate()
                try store.saveAccountKey(key.pem)
            }
            let known = store.account().flatMap { $0.directory == acme.directory ? ACMEAccount(directory: $0.directory, url: $0.url, email: $0.email) : nil }
            let options = ACMEOptions(directory: acme.directory, email: acme.email, caFile: caFile, deadline: deadline, requestTimeout: 15)
            let reporter = report
            var client = ACMEClient(options: options, accountKey: key, account: known, transport: transport,
                                    clock: ACMEClock(monotonic: clock.monotonic, sleep: clock.sleep),
                                    interrupted: cancelled, report: { Self.describe($0).map { reporter(.detail($0)) } })
            let account = try client.account()
            if account != known { try store.saveAccount(.init(directory: account.directory, url: account.url, email: account.email)) }
            try clearChallenges()
            let challenges = workspace.challengeDir
            let files = self.files
            let issued = try client.obtain(names: names, publish: { token, keyAuthorization in
                try Self.publish(token: token, keyAuthorization: keyAuthorization, in: challenges, files: files)
            }, unpublish: { token in
                if Self.isToken(token) { try? files.remove(challenges + "/" + token) }
            })
            // Stored as libcrypto writes the parsed certificates out again: nothing else the CA put in the
            // download reaches the proxy.
            let checked: (info: CertificateInfo, certificates: String)
            switch TLSFiles.checked(cert: Array(issued.chainPEM.utf8), key: Array(issued.keyPEM.utf8), now: clock.now(),
                                    certName: "the certificate the CA issued", keyName: "its key") {
            case .success(let result): checked = result
            case .failure(let issue): throw ACMEFailure(message: "acme: \(issue.message)")
            }
            if let problem = Self.namesProblem(checked.certificates, names: names) { throw ACMEFailure(message: problem) }
            let info = checked.info
            let material = TLSMaterial(certificate: checked.certificates, key: Secret(issued.keyPEM), info: info)
            let current = try store.install(material, names: names, directory: acme.directory, issuedAt: ISOTime.format(clock.now()),
                                            issuer: Self.issuer(issued.chainPEM))
            try store.saveRenewal(RenewalPolicy.succeeded(at: clock.now()))
            report(.done("certificate for \(names.joined(separator: ", ")) valid until \(CertificateInfo.format(info.notAfter))"))
            return (current, material)
        } catch let error as ACMEError {
            if case .interrupted = error { throw OrchestratorError.cancelled(step: "obtain-certificate") }
            throw failed(error.description, retryAfter: error.retryAfter, rateLimited: error.isRateLimit)
        } catch let error as ACMEFailure {
            throw failed(error.message, retryAfter: nil, rateLimited: false)
        } catch let error as FileError {
            throw failed("acme: could not write \(error.path): \(error.reason)", retryAfter: nil, rateLimited: false)
        } catch let error as OrchestratorError {
            throw error
        } catch {
            throw failed("acme: \(error)", retryAfter: nil, rateLimited: false)
        }
    }

    /// The schedule after a failure, from the time it failed (a CA's Retry-After counts from its
    /// answer); no wait past a quarter of the remaining validity of a pair still serving.
    private func failed(_ message: String, retryAfter: Double?, rateLimited: Bool) -> OrchestratorError {
        let now = clock.now()
        let serving = store.currentMaterial(now: now)?.1.info.notAfter
        let record = RenewalPolicy.failed(store.renewal(), at: now, error: message, retryAfter: retryAfter, rateLimited: rateLimited,
                                          notAfter: serving)
        try? store.saveRenewal(record)
        return OrchestratorError.acmeFailed(detail: message, nextAttempt: record.nextAttempt)
    }

    /// A token is base64url (RFC 8555 §8.3); anything else never names a file.
    static func isToken(_ token: String) -> Bool {
        (1...256).contains(token.utf8.count) && token.utf8.allSatisfy { b in
            (0x30...0x39).contains(b) || (0x41...0x5a).contains(b) || (0x61...0x7a).contains(b) || b == 0x2d || b == 0x5f
        }
    }

    static func publish(token: String, keyAuthorization: String, in folder: String, files: FileSystem) throws {
        guard isToken(token), keyAuthorization.utf8.count <= 1024, keyAuthorization.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw ACMEFailure(message: "acme: the server sent a challenge token that is not base64url; refusing to write it")
        }
        try files.createDirectory(folder)
        try files.write(keyAuthorization, to: folder + "/" + token, mode: 0o644)
    }

    /// Tokens a killed issuance left behind.
    func clearChallenges() throws {
        try files.createDirectory(workspace.challengeDir)
        for entry in files.list(workspace.challengeDir) ?? [] {
            try? files.remove(workspace.challengeDir + "/" + entry)
        }
    }

    /// Why the leaf does not certify exactly `names` (its DNS SANs, case aside); nil when it does.
    static func namesProblem(_ pem: String, names: [String]) -> String? {
        guard let leaf = leaf(pem) else { return "acme: the certificate the CA issued cannot be read" }
        let sans = (try? leaf.extensions.subjectAlternativeNames).flatMap { $0 }?.compactMap { name -> String? in
            if case .dnsName(let dns) = name { return dns.lowercased() }
            return nil
        } ?? []
        let want = Set(names.map { $0.lowercased() })
        guard Set(sans) == want else {
            let shown = sans.prefix(10).map { ACMEProblem.sanitize($0, limit: 253) }.joined(separator: ", ")
            return "acme: the certificate the CA issued names \(shown.isEmpty ? "no DNS name" : shown), not \(names.joined(separator: ", ")); refusing to install it"
        }
        return nil
    }

    /// The chain's first certificate (X509 reads one PEM document at a time).
    static func leaf(_ pem: String) -> Certificate? {
        guard let block = HTTPClient.firstCertificateBlock(pem), let der = Data(base64Encoded: block) else { return nil }
        return try? Certificate(derEncoded: [UInt8](der))
    }

    static func issuer(_ pem: String) -> String? {
        guard let certificate = leaf(pem) else { return nil }
        let text = certificate.issuer.description
        return String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7f }.prefix(200).map(Character.init))
    }

    static func describe(_ event: ACMEEvent) -> String? {
        switch event {
        case .account(let created): return created ? "registered a new ACME account" : "using the ACME account on record"
        case .ordered(let names): return "ordered a certificate for \(names.joined(separator: ", "))"
        case .challenge(let name, _): return "\(name): answering the HTTP-01 challenge"
        case .validated(let name): return "\(name): validated"
        case .finalizing: return "finalizing the order"
        case .waiting(let what, let seconds): return "waiting \(Int(seconds.rounded(.up))) s for \(what)"
        case .nonceRefused: return "the CA refused a nonce (badNonce); sending again with its new one"
        case .issued: return nil
        }
    }
}

extension Stack {
    var certificateStore: CertificateStore { CertificateStore(directory: paths.acmeDir, files: ports.files) }

    /// The issuer for this stack's proxy.tls.acme, on the host's paths.
    func certificateIssuer(_ acme: ACMESpec) -> CertificateIssuer {
        CertificateIssuer(acme: acme, names: spec.proxy.hosts, workspace: ACMEWorkspace(paths), files: ports.files, clock: ports.clock,
                          transport: ports.acme, caFile: acmeCAFile, cancelled: ports.cancelled, report: report)
    }

    /// The pair up installs for proxy.tls.acme: the stored one while it is valid (for the names it
    /// has, should proxy.hosts have changed: better than no HTTPS until the new one arrives); nil when
    /// there is none, which renders plain HTTP and the challenge only.
    func acmeMaterial() -> TLSMaterial? {
        guard spec.proxy.tls?.acme != nil else { return nil }
        return certificateStore.currentMaterial(now: ports.clock.now())?.1
    }

    /// The pair tls/live names (what the proxy serves), read back and checked; nil when there is none.
    func installedACMEMaterial() -> TLSMaterial? {
        guard let fingerprint = ports.files.readLink(paths.tlsLink), TLSFiles.isFingerprint(fingerprint) else { return nil }
        let folder = paths.tlsFolder(fingerprint)
        guard case .success(let material) = TLSFiles.load(cert: folder + "/cert.pem", key: folder + "/key.pem", now: ports.clock.now()),
              material.fingerprint == fingerprint else { return nil }
        return material
    }

    func certificateNeed(_ acme: ACMESpec) -> RenewalPolicy.Need { certificateIssuer(acme).need() }

    func obtainCertificate(_ acme: ACMESpec, deadline: Double) throws -> (CertificateStore.Current, TLSMaterial) {
        try certificateIssuer(acme).obtain(deadline: deadline)
    }
}

/// A failure of bgctl's own around an issuance (the certificate the CA sent fails a check).
struct ACMEFailure: Error {
    let message: String
}
