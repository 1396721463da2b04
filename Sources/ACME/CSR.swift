import Crypto
import Foundation
import SwiftASN1
import X509

/// The certificate's key and its request: a fresh P-256 key per certificate (never the account's),
/// every name as a dNSName SAN and the first as the subject's CN (RFC 8555 §7.4).
struct CertificateRequest {
    let keyPEM: String
    let der: [UInt8]

    init(names: [String]) throws(ACMEError) {
        let key = P256.Signing.PrivateKey()
        do {
            let extensions = try Certificate.Extensions {
                SubjectAlternativeNames(names.map { GeneralName.dnsName($0) })
            }
            let attributes = try CertificateSigningRequest.Attributes([.init(ExtensionRequest(extensions: extensions))])
            let subject = try DistinguishedName { CommonName(names[0]) }
            let request = try CertificateSigningRequest(version: .v1, subject: subject, privateKey: Certificate.PrivateKey(key),
                                                        attributes: attributes, signatureAlgorithm: .ecdsaWithSHA256)
            var serializer = DER.Serializer()
            try serializer.serialize(request)
            der = serializer.serializedBytes
        } catch {
            throw .protocolViolation("could not build the certificate request for \(names.joined(separator: ", "))")
        }
        keyPEM = key.pemRepresentation
    }
}
