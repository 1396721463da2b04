import Foundation

/// Docker-compose style variable interpolation: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
/// `${VAR:?message}`, `${VAR?message}`, `${VAR:+alternative}`, `${VAR+alternative}` and `$$` for `$`.
public struct Interpolator: Sendable {
    public struct Failure: Error, Equatable, Sendable {
        public let message: String
    }

    /// Variables looked up in order: the process environment first, then a `.env` file.
    public let variables: [String: String]
    /// `${VAR:?message}` and `${VAR?message}` of an unset (or, with `:`, empty) variable read as empty,
    /// with VAR listed as unset, instead of failing: for a reader that does not use the value.
    public var requiredMayBeUnset = false

    public init(variables: [String: String]) {
        self.variables = variables
    }

    /// `${A:-${B:-…}}` deeper than this is refused: nobody writes it, and each level costs a rescan.
    public static let maxNesting = 16
    /// The longest value interpolation may produce, in UTF-8 bytes (`$BIG$BIG…` multiplies a variable).
    public static let maxOutputBytes = 64 * 1024

    /// Returns the interpolated text and the names of variables that were referenced but unset.
    /// Failure messages give positions and names, never the text: the value may hold a secret.
    public func interpolate(_ text: String) -> Result<(value: String, unset: [String]), Failure> {
        let chars = Array(text)
        var output = Output()
        do {
            try run(chars[...], depth: 0, into: &output)
        } catch {
            return .failure(error)
        }
        return .success((output.text, output.unset))
    }

    private struct Output {
        var text = ""
        var bytes = 0
        var unset: [String] = []

        mutating func append(_ piece: String) throws(Failure) {
            bytes += piece.utf8.count
            guard bytes <= Interpolator.maxOutputBytes else {
                throw Failure(message: "the value grows past \(Interpolator.maxOutputBytes / 1024) KiB once variables are filled in; shorten it or the variables it uses")
            }
            text += piece
        }
    }

    /// Interpolates `chars`, a slice of the whole value: its indices are positions in the value.
    private func run(_ chars: ArraySlice<Character>, depth: Int, into output: inout Output) throws(Failure) {
        var i = chars.startIndex
        while i < chars.endIndex {
            let c = chars[i]
            guard c == "$", i + 1 < chars.endIndex else {
                try output.append(String(c))
                i += 1
                continue
            }
            let next = chars[i + 1]
            if next == "$" {
                try output.append("$")
                i += 2
            } else if next == "{" {
                guard let close = Self.matchingBrace(chars, from: i + 2) else {
                    throw Failure(message: "unterminated \"${\" at character \(i + 1) of the value; close it with \"}\" or write \"$$\" for a literal $")
                }
                try expand(chars[(i + 2)..<close], at: i, depth: depth, into: &output)
                i = close + 1
            } else if Self.isNameStart(next) {
                var j = i + 1
                while j < chars.endIndex && Self.isNameChar(chars[j]) { j += 1 }
                let name = String(chars[(i + 1)..<j])
                if let value = variables[name] { try output.append(value) } else { output.unset.append(name) }
                i = j
            } else {
                try output.append(String(c))
                i += 1
            }
        }
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

    /// Expands the body of the `${…}` that starts at position `start`.
    private func expand(_ body: ArraySlice<Character>, at start: Int, depth: Int, into output: inout Output) throws(Failure) {
        let invalid = Failure(message: "invalid variable reference at character \(start + 1) of the value; expected ${NAME}, ${NAME:-default}, ${NAME:?message} or ${NAME:+alternative}")
        var j = body.startIndex
        while j < body.endIndex && Self.isNameChar(body[j]) { j += 1 }
        guard let first = body.first, Self.isNameStart(first) else { throw invalid }
        let name = String(body[body.startIndex..<j])
        let rest = body[j...]
        let value = variables[name]
        if rest.isEmpty {
            if let value { try output.append(value) } else { output.unset.append(name) }
            return
        }
        let operators: [[Character]] = [[":", "-"], [":", "?"], [":", "+"], ["-"], ["?"], ["+"]]
        guard let op = operators.first(where: { rest.starts(with: $0) }) else { throw invalid }
        let argument = rest.dropFirst(op.count)
        let isSet = op.count == 2 ? !(value ?? "").isEmpty : value != nil
        // The argument may itself hold references, as in compose: ${A:-${B}}.
        func expandArgument() throws(Failure) {
            guard depth < Self.maxNesting else {
                throw Failure(message: "variable references nested more than \(Self.maxNesting) deep at character \(start + 1) of the value")
            }
            try run(argument, depth: depth + 1, into: &output)
        }
        switch op.last! {
        case "-":
            if let value, isSet { try output.append(value) } else { try expandArgument() }
        case "?":
            if let value, isSet {
                try output.append(value)
                return
            }
            // Unset here, or set and empty under ":?": empty either way, and named so the value is excused.
            if requiredMayBeUnset {
                output.unset.append(name)
                return
            }
            // The message as written, not interpolated: a variable in it could be a secret.
            let message = Quote.clip(Quote.redactingURLs(String(argument)))
            throw Failure(message: message.isEmpty ? "required variable \(name) is not set" : "\(name): \(message)")
        default:
            if isSet { try expandArgument() }
        }
    }

    private static func matchingBrace(_ chars: ArraySlice<Character>, from start: Int) -> Int? {
        var depth = 1
        var k = start
        while k < chars.endIndex {
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
///
/// Unquoted and double-quoted values may refer to variables as the spec does (`${VAR}`,
/// `${VAR:-default}`, `$VAR`, see `Interpolator`), as docker compose reads a `.env`: a reference is
/// looked up in the process environment first (which also wins over the file's own entries, as for
/// the spec), then among the entries above it. An entry that refers to itself, or to an entry only
/// further down, is refused with its line: the second rule is also what makes a cycle impossible.
public enum DotEnv {
    public struct Failure: Error, Equatable, Sendable {
        public let line: Int
        public let message: String
    }

    /// A variable a value referred to without a default that was set nowhere, at its first use.
    public struct Unset: Equatable, Sendable {
        public let name: String
        public let line: Int
    }

    public struct Resolved: Equatable, Sendable {
        public var values: [String: String]
        /// In file order, each name once.
        public var unset: [Unset]
    }

    /// All values together, once variables are filled in: each is bounded by the interpolator, but a
    /// long file of `A=$B$B` lines could still add up.
    public static let maxResolvedBytes = 1 << 20

    private struct Entry {
        let name: String
        let raw: String
        let literal: Bool
        let line: Int
    }

    /// The file's values with references to the environment and earlier entries filled in. Only
    /// variables named as referenced appear in messages, never values: they may be secrets.
    public static func resolve(_ text: String, environment: [String: String]) -> Result<Resolved, Failure> {
        let entries: [Entry]
        switch lines(text) {
        case .success(let parsed): entries = parsed
        case .failure(let failure): return .failure(failure)
        }
        var firstLine: [String: Int] = [:]
        for entry in entries where firstLine[entry.name] == nil { firstLine[entry.name] = entry.line }
        // What a reference sees: the environment, and entries above as they are reached.
        var visible = environment
        var result = Resolved(values: [:], unset: [])
        var reported: Set<String> = []
        var total = 0
        for entry in entries {
            var value = entry.raw
            if !entry.literal {
                for name in Interpolator.references(in: entry.raw) {
                    if name == entry.name {
                        return .failure(Failure(line: entry.line, message: "\(entry.name) refers to itself; a .env entry can use the environment and the entries above it (the value is not shown: it may hold a secret)"))
                    }
                    if visible[name] == nil, let later = firstLine[name], later > entry.line {
                        return .failure(Failure(line: entry.line, message: "\(entry.name) refers to \(name), which is set only further down, on line \(later); move that line above this one (entries can use only the environment and the entries above them, so they never go round in a cycle)"))
                    }
                }
                switch Interpolator(variables: visible).interpolate(entry.raw) {
                case .success(let interpolated):
                    value = interpolated.value
                    for name in interpolated.unset where reported.insert(name).inserted {
                        result.unset.append(Unset(name: name, line: entry.line))
                    }
                case .failure(let failure):
                    return .failure(Failure(line: entry.line, message: "\(entry.name): \(failure.message)"))
                }
            }
            total += value.utf8.count
            guard total <= maxResolvedBytes else {
                return .failure(Failure(line: entry.line, message: "the values grow past \(maxResolvedBytes / 1024) KiB in all once variables are filled in; is this the right file?"))
            }
            result.values[entry.name] = value
            if environment[entry.name] == nil { visible[entry.name] = value }
        }
        return .success(result)
    }

    /// The values with references filled in from earlier entries only (no environment).
    public static func parse(_ text: String) -> Result<[String: String], Failure> {
        resolve(text, environment: [:]).map(\.values)
    }

    private static func lines(_ text: String) -> Result<[Entry], Failure> {
        var entries: [Entry] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            // A bad line is named by its number (and its variable, when that much is valid), never
            // quoted: the rest of it is probably a secret.
            guard let eq = line.firstIndex(of: "=") else {
                return .failure(Failure(line: index + 1, message: "expected NAME=VALUE (the line is not shown: it may hold a secret)"))
            }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            guard Syntax.isEnvironmentName(key) else {
                return .failure(Failure(line: index + 1, message: "invalid variable name before \"=\"; expected letters, digits and _, not starting with a digit (the line is not shown: it may hold a secret)"))
            }
            var value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            var literal = false
            if value.count >= 2, value.hasPrefix("'"), value.hasSuffix("'") {
                value = String(value.dropFirst().dropLast())
                literal = true
            } else if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = unescapeDoubleQuoted(String(value.dropFirst().dropLast()))
            } else if let hash = value.range(of: " #") {
                value = value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces)
            }
            entries.append(Entry(name: key, raw: value, literal: literal, line: index + 1))
        }
        return .success(entries)
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
