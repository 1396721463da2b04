import COpenSSL
import Foundation
import Support

/// What bgctl knows of a certificate once it has checked it: its validity period.
public struct CertificateInfo: Sendable, Hashable {
    /// A certificate that expires within this many days is worth a warning.
    public static let warningDays = 14

    public let notBefore: Date
    public let notAfter: Date

    public init(notBefore: Date, notAfter: Date) {
        self.notBefore = notBefore
        self.notAfter = notAfter
    }

    /// Whole days from `now` to `notAfter`, rounded down; negative once it has expired.
    public func daysLeft(at now: Date) -> Int {
        Int((notAfter.timeIntervalSince(now) / 86_400).rounded(.down))
    }

    /// True while valid but less than `warningDays` days from expiry.
    public func expiresSoon(at now: Date) -> Bool {
        now < notAfter && notAfter.timeIntervalSince(now) < Double(Self.warningDays) * 86_400
    }

    /// `2026-12-01T00:00:00Z`: certificate times have whole seconds.
    public static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}

/// Why a certificate and key cannot be used, naming the file it is about. Messages name files and
/// dates, never file contents: the key is a secret, and a wrong file could be one too.
public struct TLSIssue: Error, Sendable, Equatable, CustomStringConvertible {
    public enum File: String, Sendable {
        case cert
        case key
    }

    /// The file the problem is in; `proxy.tls.<file>` is the spec key that names it.
    public let file: File
    public let message: String

    public init(_ file: File, _ message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { message }
}

/// A checked certificate and key as read: what `up` copies into the proxy's folder.
public struct TLSMaterial: Sendable, Equatable, CustomStringConvertible {
    /// PEM text, the leaf first, then any chain: the certificates only, written anew from what was
    /// parsed (no key, comments or other blocks the file held).
    public let certificate: String
    public let key: Secret
    public let info: CertificateInfo
    /// What is usable but unsafe, such as a key file others can read: for the caller to warn about.
    public let warnings: [TLSIssue]
    /// SHA-256 of `certificate` and the key file's bytes, hex: changes when either file does. It names
    /// the folder in tls/ that holds this pair, and the rendered configuration names that folder, so
    /// new files are a configuration change, which `up` applies with nginx -t and a reload.
    public let fingerprint: String

    public init(certificate: String, key: Secret, info: CertificateInfo, warnings: [TLSIssue] = []) {
        self.certificate = certificate
        self.key = key
        self.info = info
        self.warnings = warnings
        self.fingerprint = TLSFiles.fingerprint(certificate: Array(certificate.utf8), key: Array(key.revealed.utf8))
    }

    public var description: String { "certificate valid until \(CertificateInfo.format(info.notAfter)), files sha256 \(fingerprint.prefix(12))…" }
}

/// Checks the certificate and key named by `proxy.tls` with OpenSSL's libcrypto, before anything
/// is copied or reloaded: nginx would find the same faults, but later, and in its own words.
public enum TLSFiles {
    /// A certificate chain or key is a few KiB; a larger file is the wrong file.
    public static let maxFileBytes = 1 << 20
    /// The smallest RSA key accepted, in bits (NIST SP 800-131A; CAs issue nothing smaller).
    public static let minimumRSABits = 2048

    /// Reads both files (bounded) and checks them; the material carries what was read, and a warning
    /// when the key file can be read by its group or by others. `cert` and `key` are host paths; `now`
    /// is the clock the validity is judged by.
    public static func load(cert: String, key: String, now: Date) -> Result<TLSMaterial, TLSIssue> {
        let certBytes: [UInt8]
        let keyFile: (bytes: [UInt8], mode: mode_t)
        switch read(cert, .cert) {
        case .success(let file): certBytes = file.bytes
        case .failure(let issue): return .failure(issue)
        }
        switch read(key, .key) {
        case .success(let file): keyFile = file
        case .failure(let issue): return .failure(issue)
        }
        let warnings = keyModeWarning(key, mode: keyFile.mode).map { [$0] } ?? []
        return checked(cert: certBytes, key: keyFile.bytes, now: now, certName: cert, keyName: key).map { info, certificates in
            TLSMaterial(certificate: certificates, key: Secret(String(decoding: keyFile.bytes, as: UTF8.self)), info: info,
                        warnings: warnings)
        }
    }

    /// A warning when `mode` lets the file's group or others read the key at `path`; nil for 0600, 0400 and the like.
    static func keyModeWarning(_ path: String, mode: mode_t) -> TLSIssue? {
        let readers = [(S_IRGRP, "its group"), (S_IROTH, "every user on this host")].filter { mode & $0.0 != 0 }.map(\.1)
        guard !readers.isEmpty else { return nil }
        let octal = String(mode & 0o777, radix: 8)
        return TLSIssue(.key, "\(path) holds the TLS private key and can be read by \(readers.joined(separator: " and ")) (mode 0\(octal)); make it readable by its owner only: chmod 600 \(path)")
    }

    /// The checks, on bytes: the certificate file starts with a PEM certificate (any chain after it
    /// must parse too, the leaf first and each issuer after the certificate it signed), the key file
    /// holds an unencrypted PEM private key (RSA of at least `minimumRSABits`), the key belongs to the
    /// certificate, neither the leaf nor an intermediate is signed with MD5 or SHA-1, and `now` lies
    /// within the certificate's validity. `certName` and `keyName` only
    /// label messages.
    public static func check(cert: [UInt8], key: [UInt8], now: Date, certName: String = "the certificate file",
                             keyName: String = "the key file") -> Result<CertificateInfo, TLSIssue> {
        checked(cert: cert, key: key, now: now, certName: certName, keyName: keyName).map(\.info)
    }

    /// `check`, also giving the certificates as PEM written anew from what was parsed: only the
    /// certificate blocks, the leaf first. A file that also holds the private key (one file named for
    /// both) thus never puts the key into the world-readable copy.
    public static func checked(cert: [UInt8], key: [UInt8], now: Date, certName: String,
                        keyName: String) -> Result<(info: CertificateInfo, certificates: String), TLSIssue> {
        // OpenSSL keeps errors in a per-thread queue: start from an empty one (the chain reading looks
        // at the last error) and leave it empty for the next user (libcurl).
        ERR_clear_error()
        defer { ERR_clear_error() }
        let certificates: [OpaquePointer]
        switch readCertificates(cert, name: certName) {
        case .success(let list): certificates = list
        case .failure(let issue): return .failure(issue)
        }
        defer { certificates.forEach { X509_free($0) } }
        let leaf = certificates[0]

        if isEncrypted(key) {
            return .failure(TLSIssue(.key, "\(keyName) holds a key encrypted with a passphrase, which nginx cannot use unattended; write it out unencrypted (openssl pkey -in KEY -out KEY.plain) and keep that file private"))
        }
        guard let privateKey = withBIO(key, { bgctl_read_private_key($0) }) else {
            let hint = contains(key, "-----BEGIN CERTIFICATE-----") ? "; it holds a certificate: are cert and key swapped?" : ""
            return .failure(TLSIssue(.key, "\(keyName) holds no PEM private key (expected -----BEGIN PRIVATE KEY----- or -----BEGIN RSA/EC PRIVATE KEY-----)\(hint)"))
        }
        defer { EVP_PKEY_free(privateKey) }
        // Before the key's match: a leaf that is not first looks like a key of another certificate.
        if let issue = orderIssue(certificates, key: privateKey, certName: certName) { return .failure(issue) }
        guard X509_check_private_key(leaf, privateKey) == 1 else {
            return .failure(TLSIssue(.key, "\(keyName) does not belong to the certificate in \(certName) (the key's public half differs from the certificate's); use the key the certificate was issued for"))
        }
        let rsaBits = Int(bgctl_rsa_bits(privateKey))
        if rsaBits > 0 && rsaBits < minimumRSABits {
            return .failure(TLSIssue(.key, "\(keyName) holds a \(rsaBits)-bit RSA key; RSA keys under \(minimumRSABits) bits can be broken and clients refuse them: make a new key (openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:\(minimumRSABits), or -algorithm EC -pkeyopt ec_paramgen_curve:P-256) and have the certificate issued for it"))
        }
        if let issue = weakSignatureIssue(certificates, certName: certName) { return .failure(issue) }

        guard let notBefore = date(X509_get0_notBefore(leaf)), let notAfter = date(X509_get0_notAfter(leaf)) else {
            return .failure(TLSIssue(.cert, "\(certName): the certificate's validity dates cannot be read"))
        }
        let info = CertificateInfo(notBefore: notBefore, notAfter: notAfter)
        if now < notBefore {
            return .failure(TLSIssue(.cert, "the certificate in \(certName) is not valid before \(CertificateInfo.format(notBefore)) (now: \(CertificateInfo.format(now))); check the host's clock or use a certificate valid now"))
        }
        if now >= notAfter {
            return .failure(TLSIssue(.cert, "the certificate in \(certName) expired on \(CertificateInfo.format(notAfter)); renew it, replace the file and run bgctl up"))
        }
        guard let pem = pemText(certificates) else {
            return .failure(TLSIssue(.cert, "\(certName): out of memory writing its certificates out"))
        }
        return .success((info, pem))
    }

    /// Whether `text` can be a `fingerprint`: lowercase hex (SHA-256, or FNV-1a after `fnv1a-`), so it
    /// is safe as a folder name. Text read back from a configuration file is checked with this before
    /// it names a path.
    public static func isFingerprint(_ text: String) -> Bool {
        let hex = text.hasPrefix("fnv1a-") ? text.dropFirst(6) : Substring(text)
        return (1...64).contains(hex.count) && hex.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// The validity of the first certificate in PEM text; nil when there is none. For `status`, which
    /// reads the copy the proxy serves (no key needed, nothing judged).
    public static func certificateInfo(pem: [UInt8]) -> CertificateInfo? {
        ERR_clear_error()
        defer { ERR_clear_error() }
        guard let leaf = withBIO(pem, { bgctl_read_certificate($0) }) else { return nil }
        defer { X509_free(leaf) }
        guard let notBefore = date(X509_get0_notBefore(leaf)), let notAfter = date(X509_get0_notAfter(leaf)) else { return nil }
        return CertificateInfo(notBefore: notBefore, notAfter: notAfter)
    }

    /// SHA-256 over both files, each preceded by its length so that no two pairs share a digest. Hex.
    public static func fingerprint(certificate: [UInt8], key: [UInt8]) -> String {
        var input: [UInt8] = []
        input.reserveCapacity(certificate.count + key.count + 16)
        for part in [certificate, key] {
            withUnsafeBytes(of: UInt64(part.count).bigEndian) { input.append(contentsOf: $0) }
            input.append(contentsOf: part)
        }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = input.withUnsafeBytes { bytes in
            EVP_Digest(bytes.baseAddress, bytes.count, &digest, &length, EVP_sha256(), nil)
        }
        // EVP_Digest with SHA-256 fails only when libcrypto cannot allocate; FNV-1a still tells files apart.
        guard ok == 1 else {
            var hasher = FNV1a()
            hasher.add(input)
            return "fnv1a-" + String(hasher.value, radix: 16)
        }
        return digest.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: Pieces

    /// The chain's order, from what the file itself shows: the key belongs to a certificate after the
    /// first, or a certificate's issuer is in the file but not right after it. A certificate whose
    /// issuer is not in the file at all (the root, left out as it should be) says nothing of the order.
    private static func orderIssue(_ certificates: [OpaquePointer], key: OpaquePointer, certName: String) -> TLSIssue? {
        let fix = "list the server's own certificate (the leaf) first, then each issuer right after the certificate it signed"
        let count = certificates.count
        if X509_check_private_key(certificates[0], key) != 1,
           let index = certificates.indices.dropFirst().first(where: { X509_check_private_key(certificates[$0], key) == 1 }) {
            return TLSIssue(.cert, "the chain is out of order: the key belongs to certificate \(index + 1) of the \(count) in \(certName), not to the first; \(fix)")
        }
        for index in certificates.indices where X509_self_signed(certificates[index], 0) != 1 {
            let subject = certificates[index]
            if index + 1 < count && bgctl_issued(certificates[index + 1], subject) == 1 { continue }
            if let issuer = certificates.indices.first(where: { $0 != index && bgctl_issued(certificates[$0], subject) == 1 }) {
                return TLSIssue(.cert, "the chain is out of order: certificate \(index + 1) of the \(count) in \(certName) is signed by certificate \(issuer + 1), which should come right after it; \(fix)")
            }
        }
        return nil
    }

    /// The leaf or an intermediate signed with a broken digest. A self-signed root's own signature is
    /// not judged: clients trust a root for its key, whatever it signed itself with.
    private static func weakSignatureIssue(_ certificates: [OpaquePointer], certName: String) -> TLSIssue? {
        for (index, certificate) in certificates.enumerated() where index == 0 || X509_self_signed(certificate, 0) != 1 {
            guard let digest = bgctl_weak_signature_digest(certificate) else { continue }
            let which = index == 0 ? "the certificate in \(certName)" : "certificate \(index + 1) in \(certName) (an intermediate)"
            return TLSIssue(.cert, "\(which) is signed with \(String(cString: digest)), which can be forged and which clients refuse; have it reissued with SHA-256")
        }
        return nil
    }

    static func read(_ path: String, _ file: TLSIssue.File) -> Result<(bytes: [UInt8], mode: mode_t), TLSIssue> {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let reason = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
            return .failure(TLSIssue(file, "cannot read \(path): \(reason)"))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            return .failure(TLSIssue(file, "cannot read \(path): not a regular file"))
        }
        guard Int(info.st_size) <= maxFileBytes else {
            return .failure(TLSIssue(file, "\(path) is \(info.st_size) bytes; the limit is \(maxFileBytes / 1024) KiB (a certificate chain or key is a few KiB): is this the right file?"))
        }
        guard let bytes = BoundedRead.contents(of: path, limit: maxFileBytes) else {
            return .failure(TLSIssue(file, "cannot read \(path): permission denied, or it grew past \(maxFileBytes / 1024) KiB while being read"))
        }
        return .success((bytes, info.st_mode))
    }

    /// Every certificate in the file, the leaf first; a file whose first block is no certificate, or
    /// with a later block that does not parse, is refused.
    private static func readCertificates(_ pem: [UInt8], name: String) -> Result<[OpaquePointer], TLSIssue> {
        guard let bio = pem.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else {
            return .failure(TLSIssue(.cert, "\(name): out of memory reading it"))
        }
        defer { BIO_free(bio) }
        var certificates: [OpaquePointer] = []
        while let certificate = bgctl_read_certificate(bio) {
            certificates.append(certificate)
            guard certificates.count <= 64 else { break }
        }
        // The loop ends at the end of the PEM blocks ("no start line") or at a block that does not parse.
        let reason = ERR_GET_REASON(ERR_peek_last_error())
        if certificates.isEmpty || reason != PEM_R_NO_START_LINE {
            certificates.forEach { X509_free($0) }
            if certificates.isEmpty {
                let hint = contains(pem, "PRIVATE KEY-----") ? "; it holds a private key: are cert and key swapped?" : ""
                return .failure(TLSIssue(.cert, "\(name) holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)\(hint)"))
            }
            return .failure(TLSIssue(.cert, "\(name): certificate \(certificates.count + 1) in the file is not a valid PEM certificate (or there are more than 64)"))
        }
        return .success(certificates)
    }

    /// The certificates as PEM, each written by OpenSSL from its parsed form; nil when out of memory.
    private static func pemText(_ certificates: [OpaquePointer]) -> String? {
        guard let bio = BIO_new(BIO_s_mem()) else { return nil }
        defer { BIO_free(bio) }
        for certificate in certificates {
            guard PEM_write_bio_X509(bio, certificate) == 1 else { return nil }
        }
        let pending = Int(BIO_ctrl_pending(bio))
        var bytes = [UInt8](repeating: 0, count: pending)
        let read = bytes.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32($0.count)) }
        guard pending == 0 || Int(read) == pending else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func withBIO<T>(_ bytes: [UInt8], _ body: (OpaquePointer) -> T?) -> T? {
        guard let bio = bytes.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else { return nil }
        defer { BIO_free(bio) }
        return body(bio)
    }

    /// A PEM key under a passphrase: PKCS#8 `ENCRYPTED PRIVATE KEY`, or the older `Proc-Type: 4,ENCRYPTED` header.
    private static func isEncrypted(_ key: [UInt8]) -> Bool {
        contains(key, "-----BEGIN ENCRYPTED PRIVATE KEY-----") || contains(key, "Proc-Type: 4,ENCRYPTED")
    }

    private static func contains(_ bytes: [UInt8], _ text: String) -> Bool {
        let needle = Array(text.utf8)
        guard needle.count <= bytes.count else { return false }
        return (0...(bytes.count - needle.count)).contains { start in bytes[start..<(start + needle.count)].elementsEqual(needle) }
    }

    private static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date? {
        guard let time else { return nil }
        var parts = tm()
        guard ASN1_TIME_to_tm(time, &parts) == 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }
}
