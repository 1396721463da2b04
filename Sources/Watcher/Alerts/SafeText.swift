/// Text from outside (access-log URIs, user agents, image output) made safe for what people read:
/// Slack's mrkdwn and plain_text, the terminal, JSON. Pure; every function also clips.
public enum SafeText {
    /// Scalars that must never reach a reader as they are: C0 controls (newline and tab included: one
    /// value is one line), DEL, C1, line and paragraph separators, the bidi marks, embeddings,
    /// overrides and isolates that make text read in another order than it is, and the invisible
    /// ones that make two texts look alike: zero-width spaces and joiners (U+200B–200D), word joiner
    /// and invisible operators (U+2060–2064), the byte-order mark, soft hyphen, and the tag
    /// characters (U+E0000–E007F) that can smuggle a hidden message.
    public static func isHidden(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x00...0x1F, 0x7F...0x9F, 0xAD: return true
        case 0x061C, 0x200B...0x200F, 0x2028, 0x2029, 0x202A...0x202E, 0x2060...0x2064, 0x2066...0x2069: return true
        case 0xFEFF, 0xE0000...0xE007F: return true
        default: return false
        }
    }

    /// JSON text made safe for a terminal without changing what it means: hidden scalars that a JSON
    /// encoder leaves as they are (all but C0, which it escapes) become `\uXXXX` escapes (a surrogate
    /// pair above U+FFFF). Only for JSON text: outside strings it holds ASCII only.
    public static func json(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isHidden) else { return text }
        var out = ""
        for s in text.unicodeScalars {
            guard isHidden(s), s.value > 0x1F else {
                out.unicodeScalars.append(s)
                continue
            }
            for unit in String(s).utf16 { out += "\\u" + hex(UInt32(unit), 4) }
        }
        return out
    }

    /// For Slack mrkdwn and plain_text: `&`, `<`, `>` as entities (so no `<!channel>`, no
    /// `<url|disguised link>`), hidden scalars as U+FFFD, and a backtick as `ˋ` (U+02CB), so the value
    /// can neither open a code span nor close the code block around it. At most `limit` UTF-16 units
    /// (Slack's limits are in characters; this never exceeds them), an entity never cut in half.
    public static func slack(_ text: String, limit: Int) -> String {
        var out = String.UnicodeScalarView()
        var used = 0
        var scalars = text.unicodeScalars.makeIterator()
        while let s = scalars.next() {
            let piece: String
            switch s {
            case "&": piece = "&amp;"
            case "<": piece = "&lt;"
            case ">": piece = "&gt;"
            case "`": piece = "\u{02CB}"
            case _ where isHidden(s): piece = "\u{FFFD}"
            default: piece = String(s)
            }
            let size = piece.utf16.count
            if used + size > limit - 1 {
                // No room for this and an ellipsis: it still goes in if it is the last and fits.
                if scalars.next() == nil && used + size <= limit { out.append(contentsOf: piece.unicodeScalars) } else { out.append("…") }
                return String(out)
            }
            out.append(contentsOf: piece.unicodeScalars)
            used += size
        }
        return String(out)
    }

    /// For the terminal: hidden scalars shown escaped (`\x1b`, `\n`, `\u{202e}`), so a log line cannot
    /// move the cursor, recolour, retitle the window or reorder what is shown. At most `limit` scalars.
    public static func terminal(_ text: String, limit: Int = 2000) -> String {
        var out = ""
        var count = 0
        for s in text.unicodeScalars {
            if count >= limit {
                out += "…"
                break
            }
            count += 1
            guard isHidden(s) else {
                out.unicodeScalars.append(s)
                continue
            }
            switch s {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where s.value <= 0xFF: out += "\\x" + hex(s.value, 2)
            default: out += "\\u{" + hex(s.value, 4) + "}"
            }
        }
        return out
    }

    /// At most `limit` scalars, the last one `…` when cut. For JSON, which escapes the rest itself.
    public static func clip(_ text: String, _ limit: Int) -> String {
        let scalars = text.unicodeScalars
        guard scalars.count > limit else { return text }
        var out = String.UnicodeScalarView(scalars.prefix(max(0, limit - 1)))
        out.append("…")
        return String(out)
    }

    private static func hex(_ value: UInt32, _ width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
