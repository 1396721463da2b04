/// Character-level rules for values that reach Docker's argv or nginx's configuration. A value that
/// fails is rejected with its key named: nothing is ever escaped into something else.
public enum Syntax {
    /// The checks the CLI applies to flags that carry the same values as the spec.
    public static func isImageReferenceValue(_ text: String) -> Bool { isImageReference(text) }
    public static func isReleaseValue(_ text: String) -> Bool { isRelease(text) }
    public static func isEnvironmentNameValue(_ text: String) -> Bool { isEnvironmentName(text) }
    public static func isURLPathValue(_ text: String) -> Bool { isURLPath(text) }
    public static func isProjectNameValue(_ text: String) -> Bool { isProjectName(text) }
    static func isProjectName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, text.count <= 40,
              isLowerAlnum(first) else { return false }
        return text.unicodeScalars.allSatisfy { isLowerAlnum($0) || $0 == "_" || $0 == "-" }
    }

    /// A host name the shared front routes by (`proxy.hosts`): lowercase DNS labels of letters,
    /// digits and inner hyphens, 1–63 bytes each, at most 253 in all. Nil when it is one; else why not.
    public static func hostNameProblem(_ text: String) -> String? {
        guard !text.isEmpty else { return "expected a host name such as shop.example.com" }
        guard text.utf8.count <= 253 else { return "a host name has at most 253 characters (\(text.utf8.count) here)" }
        if text.unicodeScalars.contains(where: { ("A"..."Z").contains($0) }) {
            return "write host names in lowercase (HTTP compares them so; nginx would too)"
        }
        for label in text.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty else { return "a host name has no empty label (no leading, trailing or double dot)" }
            guard label.utf8.count <= 63 else { return "each label of a host name has at most 63 characters" }
            guard label.unicodeScalars.allSatisfy({ isLowerAlnum($0) || $0 == "-" }) else {
                return "expected letters, digits, hyphens and dots only (no wildcard, port or scheme; punycode for other scripts)"
            }
            guard label.first != "-", label.last != "-" else { return "a label of a host name neither starts nor ends with a hyphen" }
        }
        return nil
    }

    /// `proxy.tls.acme.email`: an address an ACME server accepts as a `mailto:` contact. Nil when fine.
    public static func acmeEmailProblem(_ text: String) -> String? {
        guard !text.isEmpty else { return "expected an email address such as ops@example.com" }
        guard text.utf8.count <= 254 else { return "an email address has at most 254 characters (\(text.utf8.count) here)" }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].utf8.count <= 64 else {
            return "expected one @ between a local part of 1–64 characters and a domain"
        }
        let allowed = "!#$%&'*+-/=?^_`{|}~.".unicodeScalars
        guard parts[0].unicodeScalars.allSatisfy({ isAlnum($0) || allowed.contains($0) }) else {
            return "the part before @ has letters, digits and !#$%&'*+-/=?^_`{|}~. only (no spaces, commas or quotes)"
        }
        let domain = String(parts[1]).lowercased()
        if let why = hostNameProblem(domain) { return "the domain after @: \(why)" }
        guard domain.contains(".") else { return "the domain after @ needs a dot (an ACME server refuses a bare name)" }
        return nil
    }

    /// `proxy.tls.acme.directory`: an https URL (plain http only to this host's loopback, for a test
    /// CA), with no credentials, spaces or control characters. Nil when fine.
    public static func acmeDirectoryProblem(_ text: String) -> String? {
        guard text.utf8.count <= 2048 else { return "a directory URL has at most 2048 characters" }
        guard !text.unicodeScalars.contains(where: { isControl($0) || $0 == " " }) else {
            return "expected a URL without spaces or control characters"
        }
        let scheme: String
        if text.hasPrefix("https://") { scheme = "https://" } else if text.hasPrefix("http://") { scheme = "http://" } else {
            return "expected an https:// URL such as \(ACMESpec.letsEncrypt)"
        }
        let rest = text.dropFirst(scheme.count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty else { return "expected a host after \(scheme)" }
        guard !authority.contains("@") else { return "a directory URL carries no user name or password" }
        if scheme == "http://" {
            let host = authority.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
            guard host == "127.0.0.1" || host == "localhost" else {
                return "plain http:// is accepted for 127.0.0.1 or localhost only (a test CA); use https://"
            }
        }
        return nil
    }

    /// Docker's reference grammar: `[host[:port]/]path[:tag][@sha256:hex]`, path components lowercase.
    static func isImageReference(_ text: String) -> Bool {
        guard !text.isEmpty, text.count <= 255 else { return false }
        var rest = Substring(text)
        if let at = rest.firstIndex(of: "@") {
            let digest = rest[rest.index(after: at)...]
            guard digest.hasPrefix("sha256:"), digest.count == 71,
                  digest.dropFirst(7).unicodeScalars.allSatisfy({ isHex($0) }) else { return false }
            rest = rest[..<at]
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard let last = components.popLast() else { return false }
        var name = last
        if let colon = last.firstIndex(of: ":") {
            let tag = last[last.index(after: colon)...]
            guard isTag(tag) else { return false }
            name = last[..<colon]
        }
        if let first = components.first, components.count >= 1,
           first.contains(".") || first.contains(":") || first == "localhost" {
            guard isRegistryHost(first) else { return false }
            components.removeFirst()
        }
        return (components + [name]).allSatisfy(isPathComponent)
    }

    private static func isTag(_ tag: Substring) -> Bool {
        guard let first = tag.unicodeScalars.first, tag.count <= 128,
              isWord(first) else { return false }
        return tag.unicodeScalars.allSatisfy { isWord($0) || $0 == "." || $0 == "-" }
    }

    private static func isRegistryHost(_ host: Substring) -> Bool {
        let parts = host.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, !parts[0].isEmpty else { return false }
        if parts.count == 2 {
            guard let port = integer(parts[1]), (1...65535).contains(port) else { return false }
        }
        return parts[0].unicodeScalars.allSatisfy { isAlnum($0) || $0 == "." || $0 == "-" }
    }

    private static func isPathComponent(_ component: Substring) -> Bool {
        guard let first = component.unicodeScalars.first, let last = component.unicodeScalars.last,
              isLowerAlnum(first), isLowerAlnum(last) else { return false }
        var previousSeparator = false
        for scalar in component.unicodeScalars {
            if isLowerAlnum(scalar) {
                previousSeparator = false
            } else if scalar == "." || scalar == "_" || scalar == "-" {
                // Docker allows "__" but not other doubled separators; one rule keeps it readable.
                if previousSeparator && scalar != "_" { return false }
                previousSeparator = true
            } else {
                return false
            }
        }
        return true
    }

    /// A release label: printable, no space, nothing nginx or a shell would read as syntax.
    static func isRelease(_ text: String) -> Bool {
        guard text.count <= 128 else { return false }
        return text.unicodeScalars.allSatisfy { isAlnum($0) || "._:+/@-".unicodeScalars.contains($0) }
    }

    /// A URL path as nginx and the watcher compare it: starts with `/`, unreserved characters only.
    static func isURLPath(_ text: String) -> Bool {
        guard text.hasPrefix("/"), text.count <= 1024 else { return false }
        return text.unicodeScalars.allSatisfy { isAlnum($0) || "/._~-%".unicodeScalars.contains($0) }
    }

    /// The longest environment variable name accepted.
    static let maxEnvironmentNameLength = 256

    /// A container's environment value, from the spec, `--env` or the runner's env file: no NUL, carriage
    /// return or line feed, which docker's env files and `-e` cannot carry. Judged by unicode scalar, so
    /// that "\r\n" (one Character) is refused too.
    public static func isEnvironmentValue(_ text: String) -> Bool {
        !text.unicodeScalars.contains { $0 == "\0" || $0 == "\r" || $0 == "\n" }
    }

    /// How an image reference is written, for the messages that refuse one.
    public static let imageReferenceForm = "[registry/]name[:tag][@sha256:digest], lowercase name"

    /// POSIX: `[A-Za-z_][A-Za-z0-9_]*`, at most `maxEnvironmentNameLength` characters.
    /// A query string: RFC 3986 query characters only, so no space, quote or control character.
    static func isURLQuery<S: StringProtocol>(_ text: S) -> Bool {
        text.utf8.count <= 1024 && text.unicodeScalars.allSatisfy { isAlnum($0) || "-._~%!$&'()*+,;=:@/?".unicodeScalars.contains($0) }
    }

    static func isEnvironmentName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || isAlpha(first),
              text.utf8.count <= maxEnvironmentNameLength else { return false }
        return text.unicodeScalars.allSatisfy { $0 == "_" || isAlnum($0) }
    }

    static func isHeaderName(_ text: String) -> Bool {
        !text.isEmpty && text.unicodeScalars.allSatisfy { isAlnum($0) || "!#$%&'*+-.^_`|~".unicodeScalars.contains($0) }
    }

    /// A header value: visible ASCII and spaces; CR/LF would split the request.
    static func isHeaderValue(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7f }
    }

    static func isHTTPURL(_ text: String) -> Bool {
        guard text.hasPrefix("https://") || text.hasPrefix("http://") else { return false }
        let rest = text.drop(while: { $0 != "/" }).dropFirst(2)
        guard let host = rest.split(separator: "/").first, !host.isEmpty else { return false }
        return text.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7f }
    }

    /// An integer written the one way nginx and the docs write it: ASCII digits, no sign, no leading
    /// zero (except "0"), no spaces or underscores, at most 18 digits (so it always fits an `Int`).
    static func integer<S: StringProtocol>(_ text: S) -> Int? {
        let digits = text.utf8
        guard let first = digits.first, digits.count <= 18, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              first != 0x30 || digits.count == 1 else { return nil }
        return Int(text)
    }

    /// A decimal written plainly: an integer as above, optionally followed by "." and ASCII digits.
    static func decimal(_ text: String) -> Double? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard integer(parts[0]) != nil else { return nil }
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].utf8.count <= 18, parts[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        }
        return Double(text)
    }

    /// A file or folder path: not empty, at most 4096 bytes, no control characters (a NUL would cut
    /// the path short where it is used, a newline would split a log line or a config line).
    static func isFilePath(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 4096 && !text.unicodeScalars.contains(where: isControl)
    }

    static func isControl(_ s: Unicode.Scalar) -> Bool { s.properties.generalCategory == .control }
    static func isAlpha(_ s: Unicode.Scalar) -> Bool { (s >= "a" && s <= "z") || (s >= "A" && s <= "Z") }
    static func isDigit(_ s: Unicode.Scalar) -> Bool { s >= "0" && s <= "9" }
    static func isAlnum(_ s: Unicode.Scalar) -> Bool { isAlpha(s) || isDigit(s) }
    static func isWord(_ s: Unicode.Scalar) -> Bool { isAlnum(s) || s == "_" }
    static func isLowerAlnum(_ s: Unicode.Scalar) -> Bool { (s >= "a" && s <= "z") || isDigit(s) }
    static func isHex(_ s: Unicode.Scalar) -> Bool { isDigit(s) || (s >= "a" && s <= "f") }

    /// A request header for preview routing: a token nginx exposes as `$http_…`, and not one that
    /// carries something else (Host, Cookie, Connection) or is hop-by-hop.
    public static func isPreviewHeader(_ text: String) -> Bool {
        guard (1...64).contains(text.utf8.count),
              text.unicodeScalars.allSatisfy({ isAlnum($0) || $0 == "-" }),
              text.unicodeScalars.first.map(isAlnum) == true else { return false }
        let reserved = ["host", "cookie", "connection", "upgrade", "te", "transfer-encoding", "content-length",
                        "keep-alive", "proxy-connection", "trailer"]
        return !reserved.contains(text.lowercased())
    }

    /// A cookie name nginx exposes as `$cookie_…`.
    public static func isPreviewCookie(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count) && text.unicodeScalars.allSatisfy { isAlnum($0) || $0 == "_" }
            && text.unicodeScalars.first.map(isAlnum) == true
    }
}
