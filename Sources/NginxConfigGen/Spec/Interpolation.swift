import Foundation

/// Docker-compose style variable interpolation: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
/// `${VAR:?message}`, `${VAR?message}`, `${VAR:+alternative}`, `${VAR+alternative}` and `$$` for `$`.
public struct Interpolator: Sendable {
    public struct Failure: Error, Equatable, Sendable {
        public let message: String
    }

    /// Variables looked up in order: the process environment first, then a `.env` file.
    public let variables: [String: String]

    public init(variables: [String: String]) {
        self.variables = variables
    }

    /// Returns the interpolated text and the names of variables that were referenced but unset.
    public func interpolate(_ text: String) -> Result<(value: String, unset: [String]), Failure> {
        var output = ""
        var unset: [String] = []
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            guard c == "$" else {
                output.append(c)
                i += 1
                continue
            }
            guard i + 1 < chars.count else {
                output.append(c)
                i += 1
                continue
            }
            let next = chars[i + 1]
            if next == "$" {
                output.append("$")
                i += 2
            } else if next == "{" {
                guard let close = Self.matchingBrace(chars, from: i + 2) else {
                    return .failure(Failure(message: "unterminated \"${\" in \"\(text)\""))
                }
                let body = String(chars[(i + 2)..<close])
                switch expand(body) {
                case .success(let (value, missing)):
                    output += value
                    unset += missing
                case .failure(let failure):
                    return .failure(failure)
                }
                i = close + 1
            } else if Self.isNameStart(next) {
                var j = i + 1
                while j < chars.count && Self.isNameChar(chars[j]) { j += 1 }
                let name = String(chars[(i + 1)..<j])
                if let value = variables[name] { output += value } else { unset.append(name) }
                i = j
            } else {
                output.append(c)
                i += 1
            }
        }
        return .success((output, unset))
    }

    /// Names of the variables `text` refers to (`$NAME`, `${NAME...}`), including inside defaults.
    public static func references(in text: String) -> [String] {
        var names: [String] = []
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            if chars[i] == "$", i + 1 < chars.count {
                if chars[i + 1] == "$" {
                    i += 2
                    continue
                }
                var j = chars[i + 1] == "{" ? i + 2 : i + 1
                let start = j
                while j < chars.count && isNameChar(chars[j]) { j += 1 }
                if j > start, isNameStart(chars[start]) { names.append(String(chars[start..<j])) }
                i = max(j, i + 1)
                continue
            }
            i += 1
        }
        return names
    }

    private func expand(_ body: String) -> Result<(String, [String]), Failure> {
        let chars = Array(body)
        var j = 0
        while j < chars.count && Self.isNameChar(chars[j]) { j += 1 }
        let name = String(chars[0..<j])
        guard let first = chars.first, Self.isNameStart(first) else {
            return .failure(Failure(message: "invalid variable reference \"${\(body)}\""))
        }
        let rest = String(chars[j...])
        let value = variables[name]
        if rest.isEmpty {
            return .success((value ?? "", value == nil ? [name] : []))
        }
        let operators = [":-", ":?", ":+", "-", "?", "+"]
        guard let op = operators.first(where: { rest.hasPrefix($0) }) else {
            return .failure(Failure(message: "invalid variable reference \"${\(body)}\""))
        }
        let argument = String(rest.dropFirst(op.count))
        let checkEmpty = op.hasPrefix(":")
        let isSet = checkEmpty ? !(value ?? "").isEmpty : value != nil
        // The argument may itself hold references, as in compose: ${A:-${B}}.
        let expandedArgument: () -> Result<(value: String, unset: [String]), Failure> = { self.interpolate(argument) }
        switch op.last! {
        case "-":
            if isSet { return .success((value!, [])) }
            return expandedArgument().map { ($0.value, $0.unset) }
        case "?":
            if isSet { return .success((value!, [])) }
            let message = (try? expandedArgument().get().value) ?? argument
            let reason = message.isEmpty ? "required variable \(name) is not set" : "\(name): \(message)"
            return .failure(Failure(message: reason))
        default:
            if isSet { return expandedArgument().map { ($0.value, $0.unset) } }
            return .success(("", []))
        }
    }

    private static func matchingBrace(_ chars: [Character], from start: Int) -> Int? {
        var depth = 1
        var k = start
        while k < chars.count {
            if chars[k] == "{" { depth += 1 }
            if chars[k] == "}" {
                depth -= 1
                if depth == 0 { return k }
            }
            k += 1
        }
        return nil
    }

    static func isNameStart(_ c: Character) -> Bool { c == "_" || (c.isASCII && c.isLetter) }
    static func isNameChar(_ c: Character) -> Bool { c == "_" || (c.isASCII && (c.isLetter || c.isNumber)) }
}

/// Reads a `.env` file: `KEY=VALUE` lines, `#` comments, an optional `export ` prefix, and values in
/// single quotes (literal) or double quotes (with `\n`, `\"` and `\\` escapes).
public enum DotEnv {
    public struct Failure: Error, Equatable, Sendable {
        public let line: Int
        public let message: String
    }

    public static func parse(_ text: String) -> Result<[String: String], Failure> {
        var result: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let eq = line.firstIndex(of: "=") else {
                return .failure(Failure(line: index + 1, message: "expected KEY=VALUE"))
            }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            guard let first = key.first, Interpolator.isNameStart(first), key.allSatisfy(Interpolator.isNameChar) else {
                return .failure(Failure(line: index + 1, message: "invalid variable name \"\(key)\""))
            }
            var value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("'"), value.hasSuffix("'") {
                value = String(value.dropFirst().dropLast())
            } else if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = unescapeDoubleQuoted(String(value.dropFirst().dropLast()))
            } else if let hash = value.range(of: " #") {
                value = value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces)
            }
            result[key] = value
        }
        return .success(result)
    }

    private static func unescapeDoubleQuoted(_ text: String) -> String {
        var output = ""
        var escaping = false
        for c in text {
            if escaping {
                switch c {
                case "n": output.append("\n")
                case "t": output.append("\t")
                default: output.append(c)
                }
                escaping = false
            } else if c == "\\" {
                escaping = true
            } else {
                output.append(c)
            }
        }
        return output
    }
}
