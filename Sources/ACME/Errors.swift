import Foundation
import HTTPClient

/// An RFC 7807 problem document as the CA sent it, cut to what is safe to show: its type when it is
/// a URN or URL of printable ASCII, its detail with control characters removed and at most 300
/// characters, and the first subproblem's identifier (RFC 8555 §6.7.1).
public struct ACMEProblem: Sendable, Equatable {
    public let type: String
    public let detail: String
    public let identifier: String?

    public init(type: String, detail: String, identifier: String? = nil) {
        self.type = type
        self.detail = detail
        self.identifier = identifier
    }

    static let prefix = "urn:ietf:params:acme:error:"

    /// The part after `urn:ietf:params:acme:error:` ("badNonce", "rateLimited"), or nil.
    public var code: String? { type.hasPrefix(Self.prefix) ? String(type.dropFirst(Self.prefix.count)) : nil }

    /// A problem document, or nil when the body is not one (the caller reports the status instead).
    static func parse(_ body: [UInt8]) -> ACMEProblem? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        return from(object)
    }

    static func from(_ object: [String: Any]) -> ACMEProblem? {
        guard let rawType = object["type"] as? String else { return nil }
        var detail = sanitize(object["detail"] as? String ?? "")
        var identifier: String?
        if let sub = (object["subproblems"] as? [Any])?.first as? [String: Any] {
            identifier = ((sub["identifier"] as? [String: Any])?["value"] as? String).map { sanitize($0, limit: 253) }
            if let subDetail = sub["detail"] as? String, detail.isEmpty { detail = sanitize(subDetail) }
        }
        let type = rawType.utf8.count <= 100 && rawType.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) ? rawType : "(an unreadable problem type)"
        return ACMEProblem(type: type, detail: detail, identifier: identifier)
    }

    /// Server text made safe for a terminal, a log, Slack and JSON: no C0/C1 controls, DEL or
    /// bidirectional overrides, whitespace runs folded to one space, at most `limit` characters.
    public static func sanitize(_ text: String, limit: Int = 300) -> String {
        var out = ""
        var count = 0
        var space = false
        for scalar in text.unicodeScalars {
            let v = scalar.value
            let isControl = v < 0x20 || (0x7f...0x9f).contains(v) || (0x202a...0x202e).contains(v) || (0x2066...0x2069).contains(v)
                || v == 0x200e || v == 0x200f
            if isControl || scalar.properties.isWhitespace {
                space = count > 0
                continue
            }
            // Cut only when something visible is left over: text of exactly `limit` characters is whole.
            if count + (space ? 1 : 0) >= limit { out.append("…"); break }
            if space { out.append(" "); count += 1; space = false }
            out.unicodeScalars.append(scalar); count += 1
        }
        return out
    }

    var summary: String {
        let what = code ?? type
        return detail.isEmpty ? what : "\(detail) (\(what))"
    }
}

/// Why an issuance stopped. Every description starts with "acme:", says what bgctl was doing and
/// what to do; none carries a key, a nonce, a response body or a URL's path and query beyond the
/// challenge's own (which bgctl wrote).
public enum ACMEError: Error, Sendable, CustomStringConvertible {
    /// The caller's `interrupted` answered true (a signal): nothing more was sent.
    case interrupted
    /// The deadline passed while waiting for `what`.
    case timeout(what: String, seconds: Double)
    /// No HTTP answer from the server at `url` while doing `what`.
    case transport(what: String, url: String, message: String)
    /// The CA answered `what` with a problem document (or a status without one).
    case problem(what: String, ACMEProblem, status: Int, retryAfter: Double?)
    /// The CA could not validate NAME's challenge at URL (ours: http://NAME/.well-known/acme-challenge/TOKEN).
    case challengeFailed(name: String, url: String, ACMEProblem?)
    /// The CA sent something that is not ACME (a missing field, an unsafe URL, a non-PEM certificate).
    case protocolViolation(String)
    /// The account key on disk cannot be used.
    case accountKey(String)
    /// The challenge's file could not be written for NAME (the caller's `publish` failed).
    case notPublished(name: String, reason: String)
    /// The CA's Retry-After for a rate limit reaches past the deadline (RFC 8555 §6.6).
    case rateLimited(what: String, ACMEProblem, retryAfter: Double?)

    /// Seconds the CA asked to wait, if it said.
    public var retryAfter: Double? {
        switch self {
        case .problem(_, _, _, let after), .rateLimited(_, _, let after): return after
        default: return nil
        }
    }

    public var isRateLimit: Bool {
        switch self {
        case .rateLimited: return true
        case .problem(_, let problem, _, _): return problem.code == "rateLimited"
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .interrupted:
            return "acme: interrupted by a signal; nothing was issued"
        case .timeout(let what, let seconds):
            return "acme: gave up after \(Int(seconds.rounded())) s waiting for \(what): the CA is slow or the challenge "
                + "cannot be reached; raise proxy.tls.acme.timeout or run `bgctl certs renew` later"
        case .transport(let what, let url, let message):
            return "acme: could not \(what) at \(Redact.url(url)): \(message): check proxy.tls.acme.directory, "
                + "proxy.tls.acme.ca_file and this host's outbound HTTPS"
        case .problem(let what, let problem, let status, let after):
            var text = "acme: the CA refused to \(what) (HTTP \(status)): \(problem.summary)"
            if let name = problem.identifier { text += " for \(name)" }
            if let after { text += "; it asks to retry in \(Self.duration(after))" }
            return text + Self.advice(problem)
        case .challengeFailed(let name, let url, let problem):
            var text = "acme: \(name): the challenge at \(url) "
            if let problem {
                if let status = Self.trailingStatus(problem.detail) {
                    text += "answered \(status)"
                } else {
                    text += "could not be validated"
                }
                text += ": \(problem.summary)"
            } else {
                text += "could not be validated (the CA gave no reason)"
            }
            return text + ": is port 80 of \(name) reaching this host, and does its DNS point here?"
        case .protocolViolation(let what):
            return "acme: \(what): is proxy.tls.acme.directory an ACME (RFC 8555) directory?"
        case .notPublished(let name, let reason):
            return "acme: \(name): could not write the challenge file (\(reason)): check the free space and permissions of the proxy's folder"
        case .accountKey(let what):
            return "acme: \(what): move acme/account.key out of the state folder to register a new account"
        case .rateLimited(let what, let problem, let after):
            var text = "acme: the CA refused to \(what) (rate limit): \(problem.summary)"
            if let after { text += "; it asks to retry in \(Self.duration(after)), longer than one run waits" }
            return text + "; bgctl retries after that (see `bgctl certs status`); Let's Encrypt's limits are in the README"
        }
    }

    static func advice(_ problem: ACMEProblem) -> String {
        switch problem.code {
        case "rateLimited": return "; bgctl retries after that (see `bgctl certs status`)"
        case "rejectedIdentifier", "unsupportedIdentifier": return "; the CA will not certify this name: check proxy.hosts"
        case "invalidContact", "unsupportedContact": return "; check proxy.tls.acme.email"
        case "userActionRequired": return "; the CA needs the account holder to act (for example to agree to new terms)"
        case "caa": return "; a CAA record in DNS forbids this CA for the name"
        case "dns": return "; the CA could not resolve the name: check its DNS records"
        default: return ""
        }
    }

    /// "…: 404" or "… returned 404" → 404.
    static func trailingStatus(_ detail: String) -> Int? {
        let digits = detail.reversed().prefix { $0.isNumber }
        guard digits.count == 3, let value = Int(String(digits.reversed())), (100...599).contains(value) else { return nil }
        return value
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(min(max(seconds, 0), 1e9).rounded(.up))
        if s < 120 { return "\(s) s" }
        if s < 7200 { return "\(s / 60) min" }
        if s < 172_800 { return "\(s / 3600) h" }
        return "\(s / 86_400) days"
    }
}
