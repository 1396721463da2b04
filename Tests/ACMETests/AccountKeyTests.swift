import Crypto
import Foundation
import Testing
@testable import ACME

@Suite struct AccountKeyTests {
    @Test func aKeyReadBackFromItsPEMHasTheSameThumbprint() throws {
        let key = ACMEAccountKey.generate()
        let again = try ACMEAccountKey(pem: key.pem)
        #expect(again.thumbprint == key.thumbprint)
        #expect(key.thumbprint.count == 43)
    }

    @Test func printingTheKeyShowsNoKeyMaterial() {
        let key = ACMEAccountKey.generate()
        let body = key.pem.split(separator: "\n").dropFirst().first.map(String.init) ?? "?"
        for text in ["\(key)", String(reflecting: key), { var s = ""; dump(key, to: &s); return s }()] {
            #expect(!text.contains(body))
            #expect(!text.contains("PRIVATE"))
        }
    }

    @Test(arguments: ["", "not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"])
    func aFileThatIsNoP256KeyIsRefusedWithoutEchoingIt(_ text: String) {
        #expect(throws: ACMEError.self) { try ACMEAccountKey(pem: text) }
        do { _ = try ACMEAccountKey(pem: text) } catch {
            #expect("\(error)".hasPrefix("acme: the account key file is not"))
        }
    }

    @Test func aP384KeyIsRefused() {
        #expect(throws: ACMEError.self) { try ACMEAccountKey(pem: P384.Signing.PrivateKey().pemRepresentation) }
    }

    @Test func theSignatureVerifiesOverProtectedDotPayloadWithTheJWKsKey() throws {
        let key = ACMEAccountKey.generate()
        let body = try key.sign(url: "https://ca.test/new-order", nonce: "abc_-1", kid: "https://ca.test/acct/1", payload: Data("{}".utf8))
        let object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: String])
        let protected = try #require(object["protected"]), payload = try #require(object["payload"]), signature = try #require(object["signature"])
        let header = try #require(try JSONSerialization.jsonObject(with: decode(protected)) as? [String: Any])
        #expect(header["alg"] as? String == "ES256")
        #expect(header["nonce"] as? String == "abc_-1")
        #expect(header["url"] as? String == "https://ca.test/new-order")
        #expect(header["kid"] as? String == "https://ca.test/acct/1")
        #expect(header["jwk"] == nil)
        #expect(decode(payload) == Data("{}".utf8))
        let x = try #require(key.jwk["x"]), y = try #require(key.jwk["y"])
        let publicKey = try P256.Signing.PublicKey(rawRepresentation: decode(x) + decode(y))
        let ecdsa = try P256.Signing.ECDSASignature(rawRepresentation: decode(signature))
        #expect(publicKey.isValidSignature(ecdsa, for: Data("\(protected).\(payload)".utf8)))
        #expect(!publicKey.isValidSignature(ecdsa, for: Data("\(protected).e30x".utf8)))
    }

    @Test func newAccountCarriesTheJWKAndPostAsGetAnEmptyPayload() throws {
        let key = ACMEAccountKey.generate()
        let body = try key.sign(url: "https://ca.test/new-acct", nonce: "n", kid: nil, payload: nil)
        let object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: String])
        #expect(object["payload"] == "")
        let protected = try #require(object["protected"])
        let header = try #require(try JSONSerialization.jsonObject(with: decode(protected)) as? [String: Any])
        #expect(header["kid"] == nil)
        let jwk = try #require(header["jwk"] as? [String: String])
        #expect(jwk == key.jwk)
    }

    @Test func theThumbprintIsSHA256OfTheCanonicalJWK() {
        let key = ACMEAccountKey.generate()
        let canonical = "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"\(key.jwk["x"]!)\",\"y\":\"\(key.jwk["y"]!)\"}"
        #expect(key.thumbprint == Base64URL.encode(Array(SHA256.hash(data: Data(canonical.utf8)))))
    }

    @Test func base64URLHasNoPaddingNorPlusNorSlash() {
        #expect(Base64URL.encode([0xfb, 0xff]) == "-_8")
        #expect(Base64URL.encode([0x00]) == "AA")
        #expect(Base64URL.encode("") == "")
    }

    private func decode(_ text: String) -> Data {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s) ?? Data()
    }
}
