import Foundation
import Testing
@testable import NginxConfigGen

/// What nginx would serve but a client or a neighbour could abuse: a key others can read (a warning),
/// short RSA keys and MD5 or SHA-1 signatures (refused), and a chain in the wrong order (named as such).
@Suite struct TLSStrengthTests {
    func load(_ pair: TestCertificates.Pair, cert: String? = nil) -> Result<TLSMaterial, TLSIssue> {
        TLSFiles.load(cert: cert ?? pair.cert, key: pair.key, now: Date())
    }

    func issue(_ result: Result<TLSMaterial, TLSIssue>) throws -> TLSIssue {
        guard case .failure(let issue) = result else {
            Issue.record("the files were accepted")
            throw CancellationError()
        }
        return issue
    }

    func keyLines(_ pair: TestCertificates.Pair) throws -> [String] {
        try String(contentsOfFile: pair.key, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("-----") }.map(String.init)
    }

    // MARK: The key file's mode

    @Test(arguments: [0o600, 0o400])
    func aKeyOnlyItsOwnerCanReadLoadsWithoutAWarning(mode: Int) throws {
        let pair = try TestCertificates.make()
        #expect(chmod(pair.key, mode_t(mode)) == 0)
        #expect(try load(pair).get().warnings.isEmpty)
    }

    @Test(arguments: [(0o640, "its group"), (0o604, "every user on this host"), (0o644, "its group and every user on this host")])
    func aKeyItsGroupOrOthersCanReadLoadsWithAWarningAtTheKey(mode: Int, readers: String) throws {
        let pair = try TestCertificates.make()
        #expect(chmod(pair.key, mode_t(mode)) == 0)
        let warnings = try load(pair).get().warnings
        #expect(warnings.map(\.file) == [.key])
        let message = try #require(warnings.first).message
        #expect(message.contains("can be read by \(readers) (mode 0\(String(mode, radix: 8)))") && message.contains("chmod 600 \(pair.key)"), "\(message)")
        for line in try keyLines(pair) { #expect(!message.contains(line)) }
    }

    // MARK: RSA key size

    @Test func anRSAKeyOf2048BitsIsAccepted() throws {
        let pair = try TestCertificates.make(key: .rsa(bits: 2048))
        #expect(throws: Never.self) { try load(pair).get() }
    }

    @Test(arguments: [2047, 1024])
    func anRSAKeyUnder2048BitsIsRefusedAtTheKey(bits: Int) throws {
        let pair = try TestCertificates.make(key: .rsa(bits: bits))
        let refused = try issue(load(pair))
        #expect(refused.file == .key)
        #expect(refused.message.contains("holds a \(bits)-bit RSA key; RSA keys under 2048 bits"), "\(refused)")
        for line in try keyLines(pair) { #expect(!refused.message.contains(line)) }
    }

    @Test func anECP256KeyIsAccepted() throws {
        #expect(throws: Never.self) { try load(try TestCertificates.make(key: .ecP256)).get() }
    }

    // MARK: Signature digests

    @Test(arguments: [("sha1", "SHA-1"), ("md5", "MD5")])
    func aLeafSignedWithABrokenDigestIsRefused(digest: String, name: String) throws {
        let refused = try issue(load(try TestCertificates.make(key: .rsa(bits: 2048), digest: digest)))
        #expect(refused.file == .cert)
        #expect(refused.message.contains("the certificate in ") && refused.message.contains("is signed with \(name),"), "\(refused)")
    }

    @Test func aLeafIssuedWithSHA1ByACAIsRefused() throws {
        let chain = try TestCertificates.chain(digests: [2: "sha1"])
        let path = try chain.write([try chain.leafText] + chain.intermediates)
        #expect(try issue(load(chain.leaf, cert: path)).message.contains("is signed with SHA-1"))
    }

    @Test(arguments: ["sha1", "md5"])
    func anIntermediateSignedWithABrokenDigestIsRefused(digest: String) throws {
        let chain = try TestCertificates.chain(key: .rsa(bits: 2048), digests: [1: digest])
        let path = try chain.write([try chain.leafText] + chain.intermediates)
        let refused = try issue(load(chain.leaf, cert: path))
        #expect(refused.file == .cert)
        #expect(refused.message.contains("certificate 2 in \(path) (an intermediate) is signed with \(digest == "md5" ? "MD5" : "SHA-1")"), "\(refused)")
    }

    @Test func aSelfSignedRootsOwnSHA1SignatureDoesNotCount() throws {
        let chain = try TestCertificates.chain(digests: [0: "sha1"])
        let path = try chain.write([try chain.leafText] + chain.intermediates + [chain.root])
        #expect(throws: Never.self) { try load(chain.leaf, cert: path).get() }
    }

    // MARK: Chain order

    @Test func aChainInIssuingOrderIsAccepted() throws {
        let chain = try TestCertificates.chain(intermediates: 2)
        let path = try chain.write([try chain.leafText] + chain.intermediates + [chain.root])
        let material = try load(chain.leaf, cert: path).get()
        #expect(material.certificate == (try chain.leafText) + chain.intermediates.joined() + chain.root)
    }

    @Test func aChainWithoutItsRootIsAccepted() throws {
        let chain = try TestCertificates.chain(intermediates: 2)
        #expect(throws: Never.self) { try load(chain.leaf, cert: try chain.write([try chain.leafText] + chain.intermediates)).get() }
    }

    @Test func anIntermediateBeforeTheLeafIsAChainOutOfOrderNotAKeyOfAnotherCertificate() throws {
        let chain = try TestCertificates.chain()
        let path = try chain.write(chain.intermediates + [try chain.leafText])
        let refused = try issue(load(chain.leaf, cert: path))
        #expect(refused.file == .cert)
        #expect(refused.message.hasPrefix("the chain is out of order: the key belongs to certificate 2 of the 2 in \(path), not to the first"), "\(refused)")
        #expect(!refused.message.contains("does not belong"))
    }

    @Test func intermediatesOutOfOrderAreAChainOutOfOrder() throws {
        let chain = try TestCertificates.chain(intermediates: 2)
        let path = try chain.write([try chain.leafText] + chain.intermediates.reversed())
        let refused = try issue(load(chain.leaf, cert: path))
        #expect(refused.message.hasPrefix("the chain is out of order: certificate 1 of the 3 in \(path) is signed by certificate 3"), "\(refused)")
    }

    @Test func aRootBetweenTheLeafAndItsIssuerIsAChainOutOfOrder() throws {
        let chain = try TestCertificates.chain()
        let path = try chain.write([try chain.leafText, chain.root] + chain.intermediates)
        #expect(try issue(load(chain.leaf, cert: path)).message.hasPrefix("the chain is out of order: certificate 1 of the 3"))
    }

    @Test func aKeyOfNoCertificateInTheFileStillDoesNotBelong() throws {
        let chain = try TestCertificates.chain()
        let other = try TestCertificates.make()
        let path = try chain.write([try chain.leafText] + chain.intermediates)
        let refused = try issue(TLSFiles.load(cert: path, key: other.key, now: Date()))
        #expect(refused.file == .key && refused.message.contains("does not belong to the certificate"), "\(refused)")
    }
}
