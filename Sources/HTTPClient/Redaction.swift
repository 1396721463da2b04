import Foundation

/// What may be printed about a URL: `scheme://host[:port]/…`. The path and query (where webhook
/// tokens live) and any `user:password@` never appear.
public enum Redact {
    public static func url(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return "…" }
        let scheme = url[..<schemeEnd.lowerBound]
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        let tail = rest[authorityEnd...]
        return "\(scheme)://\(authority)" + (tail.isEmpty || tail == "/" ? "" : "/…")
    }
}

/// Replaces configured secrets (webhook URLs, their paths and tokens, header values) in any text
/// before it is printed or written: the last line of defence behind never echoing response bodies.
public struct Redactor: Sendable {
    /// Secret → what stands in for it, longest first so a whole URL goes before its parts.
    private let replacements: [(String, String)]

    /// Values shorter than this are left alone: redacting "1" or "on" would garble every message.
    public static let shortest = 6

    public init(urls: [String], headerValues: [String] = []) {
        var pairs: [(String, String)] = []
        for url in urls where !url.isEmpty {
            pairs.append((url, Redact.url(url)))
            guard let schemeEnd = url.range(of: "://") else { continue }
            let rest = url[schemeEnd.upperBound...]
            guard let pathStart = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) else { continue }
            let tail = String(rest[pathStart...])
            pairs.append((tail, "/…"))
            if let decoded = tail.removingPercentEncoding, decoded != tail { pairs.append((decoded, "/…")) }
            // Each long piece of the path and query on its own (an endpoint may echo only the token);
            // short pieces are words like "hooks" that our own messages may contain.
            for piece in tail.split(whereSeparator: { "/?&=#;".contains($0) }) where piece.count >= 10 {
                pairs.append((String(piece), "…"))
            }
        }
        for value in headerValues { pairs.append((value, "…")) }
        replacements = pairs.filter { $0.0.count >= Self.shortest }.sorted { $0.0.count > $1.0.count }
    }

    public func apply(_ text: String) -> String {
        var text = text
        for (secret, stand) in replacements where text.contains(secret) {
            text = text.replacingOccurrences(of: secret, with: stand)
        }
        return text
    }
}
