import Crypto
import Foundation

/// The ACME account's key: ECDSA P-256, signing with ES256 (RFC 7518 §3.4). Printing it, dumping it
/// or interpolating it shows the thumbprint only; `pem` is for the 0600 file and nothing else.
public struct ACMEAccountKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The scalar (32 bytes); swift-crypto's key type is not Sendable on every platform, bytes are.
    private let raw: Data

    init(key: P256.Signing.PrivateKey) { raw = key.rawRepresentation }

    // A scalar that came from a key is a valid key.
    var key: P256.Signing.PrivateKey { try! P256.Signing.PrivateKey(rawRepresentation: raw) }

    public static func generate() -> ACMEAccountKey { ACMEAccountKey(key: P256.Signing.PrivateKey()) }

    /// A PKCS#8 or SEC 1 PEM of a P-256 key. Anything else (another curve, RSA, garbage) is an error
    /// that names the problem, never the text.
    public init(pem: String) throws {
        guard pem.utf8.count <= 16 * 1024 else { throw ACMEError.accountKey("the account key file is larger than 16 KiB") }
        do {
            raw = try P256.Signing.PrivateKey(pemRepresentation: pem).rawRepresentation
        } catch {
            throw ACMEError.accountKey("the account key file is not a P-256 private key in PEM")
        }
    }

    public var pem: String { key.pemRepresentation }

    /// The public key as a JWK (RFC 7517), members in the order RFC 7638 hashes them.
    var jwk: [String: String] {
        let raw = key.publicKey.rawRepresentation
        return ["crv": "P-256", "kty": "EC", "x": Base64URL.encode(raw.prefix(32)), "y": Base64URL.encode(raw.suffix(32))]
    }

    /// RFC 7638: SHA-256 over the required members, lexicographic, no whitespace; base64url.
    public var thumbprint: String {
        let jwk = self.jwk
        let canonical = #"{"crv":"P-256","kty":"EC","x":"\#(jwk["x"]!)","y":"\#(jwk["y"]!)"}"#
        return Base64URL.encode(Array(SHA256.hash(data: Data(canonical.utf8))))
    }

    /// A flattened JWS (RFC 7515 §7.2.2) as RFC 8555 §6.2 wants it: ES256, the nonce and the URL in
    /// the protected header, `jwk` for newAccount and `kid` (the account URL) otherwise. A nil
    /// payload is POST-as-GET (an empty payload, §6.3).
    func sign(url: String, nonce: String, kid: String?, payload: Data?) throws -> Data {
        var header: [String: Any] = ["alg": "ES256", "nonce": nonce, "url": url]
        if let kid { header["kid"] = kid } else { header["jwk"] = jwk }
        let protected = Base64URL.encode(JSON.data(header))
        let body = payload.map { Base64URL.encode($0) } ?? ""
        let signature = try key.signature(for: Data("\(protected).\(body)".utf8))
        return JSON.data(["protected": protected, "payload": body, "signature": Base64URL.encode(signature.rawRepresentation)])
    }

    public var description: String { "ACMEAccountKey(thumbprint: \(thumbprint))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["thumbprint": thumbprint]) }
}
