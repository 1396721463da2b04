import Foundation
import NginxConfigGen
import Support

/// What bgctl keeps of `proxy.tls.acme` in the state folder (acme/, mode 0700): the account key and
/// its URL, each issued certificate and key in a folder named by their fingerprint, which pair is
/// current, and the renewal schedule. Keys are written 0600 and never read back into any message.
///
/// A pair is written whole before anything names it: its folder is filled under a temporary name and
/// renamed into place, then current.json (temp file + rename) names it. A kill at any instant leaves
/// the previous pair current, or the new one complete; never a key without its certificate.
public struct CertificateStore: Sendable {
    public let directory: String
    let files: FileSystem

    public init(directory: String, files: FileSystem) {
        self.directory = directory
        self.files = files
    }

    /// acme/lock: flock(2), held while a certificate is obtained or installed — by `up`, `certs renew`
    /// and the stack's watcher, which mounts acme/ — so two never install at once.
    var lockFile: String { directory + "/lock" }

    var accountKeyFile: String { directory + "/account.key" }
    var accountFile: String { directory + "/account.json" }
    var currentFile: String { directory + "/current.json" }
    var renewalFile: String { directory + "/renewal.json" }
    var pairsDir: String { directory + "/pairs" }
    func pairFolder(_ fingerprint: String) -> String { pairsDir + "/" + fingerprint }

    /// Which pair is current, for which names and from which directory.
    public struct Current: Codable, Sendable, Equatable {
        public var fingerprint: String
        public var names: [String]
        public var directory: String
        public var issuedAt: String
        public var notBefore: String
        public var notAfter: String
        public var issuer: String?

        enum CodingKeys: String, CodingKey {
            case fingerprint, names, directory, issuer
            case issuedAt = "issued_at"
            case notBefore = "not_before"
            case notAfter = "not_after"
        }
    }

    /// The account's URL at the directory it was registered with (the key is in account.key).
    public struct Account: Codable, Sendable, Equatable {
        public var directory: String
        public var url: String
        /// The contact set on the account (absent in files written before bgctl kept it).
        public var email: String?
    }

    // MARK: Account

    /// The account key's PEM, or nil when none was made yet. Not checked here (the ACME client parses it).
    func accountKeyPEM() throws -> String? {
        guard let data = try files.read(accountKeyFile, limit: 64 << 10) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    func saveAccountKey(_ pem: String) throws {
        try ensureDirectory()
        try files.write(pem, to: accountKeyFile, mode: 0o600)
    }

    func account() -> Account? { decode(Account.self, accountFile) }

    func saveAccount(_ account: Account) throws {
        try ensureDirectory()
        try files.write(try encode(account), to: accountFile, mode: 0o600)
    }

    // MARK: Pairs

    public func current() -> Current? {
        guard let current = decode(Current.self, currentFile), TLSFiles.isFingerprint(current.fingerprint) else { return nil }
        return current
    }

    /// The current pair, read and checked at `now` (TLSFiles' checks: the key belongs to the
    /// certificate, it is valid now); nil when there is none, or it fails them.
    public func currentMaterial(now: Date) -> (Current, TLSMaterial)? {
        guard let current = current() else { return nil }
        let folder = pairFolder(current.fingerprint)
        guard case .success(let material) = TLSFiles.load(cert: folder + "/cert.pem", key: folder + "/key.pem", now: now) else { return nil }
        return (current, material)
    }

    /// Writes the pair into a folder of its own and makes it current; returns what current.json says.
    @discardableResult
    func install(_ material: TLSMaterial, names: [String], directory acmeDirectory: String, issuedAt: String, issuer: String?) throws -> Current {
        guard TLSFiles.isFingerprint(material.fingerprint) else { throw OrchestratorError.tlsNotChecked }
        try ensureDirectory()
        try files.createDirectory(pairsDir)
        let final = pairFolder(material.fingerprint)
        if !files.exists(final + "/key.pem") || !files.exists(final + "/cert.pem") {
            let staging = pairsDir + "/.new-\(material.fingerprint.prefix(16))"
            try files.remove(staging)
            try files.createDirectory(staging)
            try files.write(material.key.revealed, to: staging + "/key.pem", mode: 0o600)
            try files.write(material.certificate, to: staging + "/cert.pem", mode: 0o644)
            try files.remove(final)
            try files.rename(staging, to: final)
        }
        let current = Current(fingerprint: material.fingerprint, names: names, directory: acmeDirectory, issuedAt: issuedAt,
                              notBefore: ISOTime.format(material.info.notBefore), notAfter: ISOTime.format(material.info.notAfter),
                              issuer: issuer)
        try files.write(try encode(current), to: currentFile, mode: 0o600)
        return current
    }

    /// Removes pairs other than the current one (after it is installed in the proxy), and any folder
    /// a killed install left half-filled.
    func prune() {
        let keep = current()?.fingerprint
        for entry in files.list(pairsDir) ?? [] where entry != keep {
            try? files.remove(pairsDir + "/" + entry)
        }
    }

    // MARK: Renewal schedule

    public func renewal() -> RenewalRecord { decode(RenewalRecord.self, renewalFile) ?? RenewalRecord() }

    func saveRenewal(_ record: RenewalRecord) throws {
        try ensureDirectory()
        try files.write(try encode(record), to: renewalFile, mode: 0o600)
    }

    // MARK: Helpers

    private func ensureDirectory() throws {
        try files.createDirectory(directory)
        chmod(directory, 0o700)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ path: String) -> T? {
        guard let data = try? files.read(path, limit: FileLimits.stateFile) else { return nil }
        return try? JSONDecoder().decode(type, from: data)
    }

    private func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }
}
