/// How a value found in a spec is shown in a message: clipped, escaped, and with any URL cut back to
/// `scheme://host/…`, because a URL written in the wrong place is still someone's webhook token.
/// Values of keys known to be secret are never passed here at all.
enum Quote {
    static let maxLength = 60

    /// `"value"`, redacted, clipped to `maxLength` characters and escaped.
    static func value(_ text: String) -> String {
        "\"\(escape(clip(redactingURLs(text))))\""
    }

    static func clip(_ text: String) -> String {
        // Counting unicode scalars, not characters: a value of one huge grapheme cluster stays cheap.
        guard text.unicodeScalars.count > maxLength else { return text }
        var clipped = String.UnicodeScalarView()
        clipped.append(contentsOf: text.unicodeScalars.prefix(maxLength - 3))
        return String(clipped) + "..."
    }

    /// Keeps each URL's scheme and host; drops user information, path, query and fragment.
    static func redactingURLs(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var output = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            guard scalars[i] == ":", i + 2 < scalars.count, scalars[i + 1] == "/", scalars[i + 2] == "/",
                  i > 0, isSchemeChar(scalars[i - 1]) else {
                output.append(scalars[i])
                i += 1
                continue
            }
            output.append(contentsOf: "://".unicodeScalars)
            var j = i + 3
            var authority: [Unicode.Scalar] = []
            while j < scalars.count, !ends(scalars[j]), !"/?#".unicodeScalars.contains(scalars[j]) {
                authority.append(scalars[j])
                j += 1
            }
            if let at = authority.lastIndex(of: "@") {
                output.append(contentsOf: "…@".unicodeScalars)
                authority.removeSubrange(...at)
            }
            output.append(contentsOf: authority)
            if j < scalars.count, "/?#".unicodeScalars.contains(scalars[j]) {
                output.append(scalars[j] == "/" ? "/" : scalars[j])
                output.append("…")
                while j < scalars.count, !ends(scalars[j]) { j += 1 }
            }
            i = j
        }
        return String(output)
    }

    static func escape(_ text: String) -> String {
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            default:
                if scalar.properties.generalCategory == .control {
                    escaped += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        return escaped
    }

    private static func isSchemeChar(_ s: Unicode.Scalar) -> Bool { Syntax.isAlnum(s) || s == "+" || s == "." || s == "-" }
    private static func ends(_ s: Unicode.Scalar) -> Bool { s == " " || s == "\"" || s == "'" || s.properties.generalCategory == .control }
}
