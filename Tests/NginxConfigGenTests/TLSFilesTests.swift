import Foundation
import Testing
@testable import NginxConfigGen

/// The checks on proxy.tls's files, each on its own, with the clock as a parameter: validity
/// boundaries are tested by moving `now`, not by making certificates with odd dates.
@Suite struct TLSFilesTests {
    let pair: TestCertificates.Pair
    let info: CertificateInfo

    init() throws {
        pair = try TestCertificates.make(days: 30)
        info = try TLSFiles.load(cert: pair.cert, key: pair.key, now: Date()).get().info
    }

    func load(cert: String? = nil, key: String? = nil, now: Date? = nil) -> Result<TLSMaterial, TLSIssue> {
        TLSFiles.load(cert: cert ?? pair.cert, key: key ?? pair.key, now: now ?? info.notBefore.addingTimeInterval(3600))
    }

    func issue(cert: String? = nil, key: String? = nil, now: Date? = nil) throws -> TLSIssue {
        guard case .failure(let issue) = load(cert: cert, key: key, now: now) else {
            Issue.record("the files were accepted")
            throw CancellationError()
        }
        return issue
    }

    func write(_ text: String, _ name: String) throws -> String {
        let path = pair.folder.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    var keyText: String { get throws { try String(contentsOfFile: pair.key, encoding: .utf8) } }
    var certText: String { get throws { try String(contentsOfFile: pair.cert, encoding: .utf8) } }

    /// The base64 lines of the private key: none may ever appear in a message.
    var keyLines: [String] { get throws { try keyText.split(separator: "\n").filter { !$0.hasPrefix("-----") }.map(String.init) } }

    // MARK: Accepted

    @Test func aMatchingPairValidNowIsAcceptedWithItsValidityPeriod() throws {
        let material = try load().get()
        #expect(material.info.notAfter.timeIntervalSince(material.info.notBefore) == 30 * 86_400)
        #expect(material.certificate == (try certText))
        #expect(material.key.revealed == (try keyText))
    }

    @Test func aChainAfterTheLeafIsAccepted() throws {
        let other = try TestCertificates.make(days: 90)
        let chain = try write(certText + String(contentsOfFile: other.cert, encoding: .utf8), "chain.pem")
        #expect(try load(cert: chain).get().info == info, "the leaf, the first certificate, decides the dates")
    }

    @Test func oneFileHoldingBothCertificateAndKeyServesAsEither() throws {
        let both = try write(certText + keyText, "both.pem")
        #expect(try load(cert: both, key: both).get().info == info)
    }

    @Test(arguments: [false, true])
    func theCertificateCopyOfAFileHoldingTheKeyHoldsOnlyTheCertificate(keyFirst: Bool) throws {
        let both = try write(keyFirst ? try keyText + certText : try certText + keyText, "both.pem")
        let material = try load(cert: both, key: both).get()
        #expect(!material.certificate.contains("PRIVATE KEY"), "the copy the proxy reads world-readable")
        #expect(material.certificate == (try certText))
        #expect(material.key.revealed.contains("PRIVATE KEY"))
    }

    @Test func theCertificateCopyKeepsTheChainInOrderAndDropsTextBetweenBlocks() throws {
        let other = try TestCertificates.make(days: 90)
        let otherText = try String(contentsOfFile: other.cert, encoding: .utf8)
        let chain = try write("subject=CN = site\n" + certText + "issuer note\n" + otherText, "chain.pem")
        #expect(try load(cert: chain).get().certificate == (try certText) + otherText)
    }

    // MARK: Validity, at its boundaries

    @Test func theLastSecondBeforeNotAfterIsStillValid() throws {
        #expect(try load(now: info.notAfter.addingTimeInterval(-1)).get().info == info)
    }

    @Test func atNotAfterTheCertificateHasExpiredAndTheMessageGivesTheDate() throws {
        let found = try issue(now: info.notAfter)
        #expect(found.file == .cert)
        #expect(found.message == "the certificate in \(pair.cert) expired on \(CertificateInfo.format(info.notAfter)); renew it, replace the file and run bgctl up")
    }

    @Test func atNotBeforeTheCertificateIsValid() throws {
        #expect(try load(now: info.notBefore).get().info == info)
    }

    @Test func aSecondBeforeNotBeforeTheCertificateIsNotYetValid() throws {
        let found = try issue(now: info.notBefore.addingTimeInterval(-1))
        #expect(found.file == .cert)
        #expect(found.message.hasPrefix("the certificate in \(pair.cert) is not valid before \(CertificateInfo.format(info.notBefore))"))
    }

    @Test func exactlyFourteenDaysBeforeExpiryIsNotYetWorthAWarning() {
        let now = info.notAfter.addingTimeInterval(-14 * 86_400)
        #expect(!info.expiresSoon(at: now))
        #expect(info.daysLeft(at: now) == 14)
    }

    @Test func aSecondLessThanFourteenDaysIsWorthAWarning() {
        let now = info.notAfter.addingTimeInterval(-14 * 86_400 + 1)
        #expect(info.expiresSoon(at: now))
        #expect(info.daysLeft(at: now) == 13)
    }

    @Test func anExpiredCertificateIsNoLongerExpiringSoonAndHasNegativeDaysLeft() {
        let now = info.notAfter.addingTimeInterval(1)
        #expect(!info.expiresSoon(at: now))
        #expect(info.daysLeft(at: now) == -1)
    }

    // MARK: Refused files

    @Test func aKeyOfAnotherCertificateIsRefused() throws {
        let other = try TestCertificates.make()
        let found = try issue(key: other.key)
        #expect(found.file == .key)
        #expect(found.message.contains("does not belong to the certificate in \(pair.cert)"))
    }

    @Test func aKeyUnderAPassphraseIsRefusedWithoutAskingForIt() throws {
        let encrypted = pair.folder.appendingPathComponent("encrypted.key").path
        try TestCertificates.run(["pkey", "-in", pair.key, "-out", encrypted, "-aes256", "-passout", "pass:secret"])
        let found = try issue(key: encrypted)
        #expect(found.file == .key)
        #expect(found.message.contains("encrypted with a passphrase"))
    }

    @Test func aCertificateFileWithoutACertificateIsRefused() throws {
        let found = try issue(cert: try write("not a certificate\n", "junk.pem"))
        #expect(found.file == .cert)
        #expect(found.message.contains("holds no PEM certificate"))
        #expect(!found.message.contains("swapped"))
    }

    @Test func aKeyGivenAsTheCertificateIsRefusedAsSwapped() throws {
        let found = try issue(cert: pair.key, key: pair.cert)
        #expect(found.file == .cert)
        #expect(found.message.contains("are cert and key swapped?"))
    }

    @Test func aCertificateGivenAsTheKeyIsRefusedAsSwapped() throws {
        let found = try issue(key: pair.cert)
        #expect(found.file == .key)
        #expect(found.message.contains("holds no PEM private key") && found.message.contains("swapped"))
    }

    @Test func aBrokenCertificateAfterTheLeafIsRefusedByItsNumber() throws {
        let broken = try write(certText + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "broken.pem")
        let found = try issue(cert: broken)
        #expect(found.message.contains("certificate 2 in the file is not a valid PEM certificate"))
    }

    @Test func aMissingFileIsNamed() throws {
        let found = try issue(key: "/nonexistent/site.key")
        #expect(found == TLSIssue(.key, "cannot read /nonexistent/site.key: no such file"))
    }

    @Test func aFolderIsNotAFile() throws {
        let found = try issue(cert: pair.folder.path)
        #expect(found == TLSIssue(.cert, "cannot read \(pair.folder.path): not a regular file"))
    }

    @Test func aFileOfTheLimitIsReadAndOneByteMoreIsNot() throws {
        let atLimit = pair.folder.appendingPathComponent("limit.pem").path
        try Data(repeating: UInt8(ascii: "x"), count: TLSFiles.maxFileBytes).write(to: URL(fileURLWithPath: atLimit))
        #expect(try issue(cert: atLimit).message.contains("holds no PEM certificate"), "read, then found wanting")
        let over = pair.folder.appendingPathComponent("over.pem").path
        try Data(repeating: UInt8(ascii: "x"), count: TLSFiles.maxFileBytes + 1).write(to: URL(fileURLWithPath: over))
        #expect(try issue(cert: over).message == "\(over) is \(TLSFiles.maxFileBytes + 1) bytes; the limit is 1024 KiB (a certificate chain or key is a few KiB): is this the right file?")
    }

    @Test func noMessageOrDescriptionShowsTheKey() throws {
        let other = try TestCertificates.make()
        var texts = [try issue(key: other.key), try issue(cert: pair.key, key: pair.key), try issue(now: info.notAfter)].map(\.description)
        let material = try load().get()
        texts += [material.description, "\(material)", String(reflecting: material.key)]
        for text in texts {
            for line in try keyLines { #expect(!text.contains(line), "\(text)") }
        }
    }

    // MARK: Fingerprint

    @Test func theFingerprintFollowsEitherFileAndOnlyThem() throws {
        let base = try load().get().fingerprint
        #expect(base.count == 64)
        #expect(try load().get().fingerprint == base)
        let other = try TestCertificates.make()
        #expect(TLSFiles.fingerprint(certificate: Array(try certText.utf8), key: Array(try String(contentsOfFile: other.key, encoding: .utf8).utf8)) != base)
        #expect(TLSFiles.fingerprint(certificate: Array(try (certText + "\n").utf8), key: Array(try keyText.utf8)) != base)
    }

    @Test func movingBytesFromOneFileToTheOtherChangesTheFingerprint() {
        #expect(TLSFiles.fingerprint(certificate: Array("ab".utf8), key: Array("c".utf8))
                != TLSFiles.fingerprint(certificate: Array("a".utf8), key: Array("bc".utf8)))
    }

    @Test func theInstalledCertificatesDatesAreReadWithoutAKey() throws {
        #expect(TLSFiles.certificateInfo(pem: Array(try certText.utf8)) == info)
        #expect(TLSFiles.certificateInfo(pem: Array("junk".utf8)) == nil)
    }
}
