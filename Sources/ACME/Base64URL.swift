import Foundation

/// base64url without padding (RFC 4648 §5), the encoding of every JWS part and of the CSR (RFC 8555 §7.4).
enum Base64URL {
    static func encode<D: DataProtocol>(_ bytes: D) -> String {
        var text = Data(bytes).base64EncodedString()
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    static func encode(_ text: String) -> String { encode(Data(text.utf8)) }
}

/// JSON as the protocol writes it: sorted keys (a stable protected header), no escaped slashes.
enum JSON {
    static func data(_ object: Any) -> Data {
        // Every object given here is built from strings, booleans and arrays of them: it serializes.
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }
}
