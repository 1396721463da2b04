import Yams

/// Walks a composed YAML tree, interpolating scalars and collecting every problem with its position.
/// Each accessor returns nil after recording an issue, so decoding carries on past mistakes.
final class NodeReader {
    let file: String
    let interpolator: Interpolator
    private(set) var issues: [SpecIssue] = []
    /// Every variable a scalar referred to, set or not.
    private(set) var referenced: Set<String> = []

    init(file: String, interpolator: Interpolator) {
        self.file = file
        self.interpolator = interpolator
    }

    func report(_ node: Node?, _ path: [String], _ message: String) {
        let mark = node?.mark
        issues.append(SpecIssue(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1,
                                path: path.joined(separator: "."), message: message))
    }

    /// True for an explicitly empty value (`key:`, `key: ~`, `key: null`), which means "use the default".
    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// The entries of a mapping whose keys must come from `allowed`; unknown keys are reported with a suggestion.
    func mapping(_ node: Node, _ path: [String], allowed: [String]) -> [String: Node]? {
        guard case .mapping(let mapping) = node else {
            if isNull(node) { return [:] }
            report(node, path, "expected a mapping, found \(describe(node))")
            return nil
        }
        var entries: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else {
                report(keyNode, path, "keys must be plain strings")
                continue
            }
            let name = key.string
            if !allowed.isEmpty && !allowed.contains(name) {
                var message = "unknown key \"\(name)\""
                if let suggestion = Suggestion.closest(to: name, in: allowed) {
                    message += "; did you mean \"\(suggestion)\"?"
                } else {
                    message += "; expected one of: \(allowed.joined(separator: ", "))"
                }
                report(keyNode, path + [name], message)
                continue
            }
            entries[name] = value
        }
        return entries
    }

    /// A mapping with free-form keys (environment variables, headers), in key order.
    func freeMapping(_ node: Node, _ path: [String]) -> [(key: String, keyNode: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            if isNull(node) { return [] }
            report(node, path, "expected a mapping, found \(describe(node))")
            return nil
        }
        var entries: [(String, Node, Node)] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else {
                report(keyNode, path, "keys must be plain strings")
                continue
            }
            entries.append((key.string, keyNode, value))
        }
        return entries
    }

    func sequence(_ node: Node, _ path: [String]) -> [Node]? {
        if isNull(node) { return [] }
        guard case .sequence(let sequence) = node else {
            report(node, path, "expected a list, found \(describe(node))")
            return nil
        }
        return Array(sequence)
    }

    /// An interpolated scalar. `unset` lists variables the value referenced that were not set.
    func scalar(_ node: Node, _ path: [String]) -> (text: String, unset: [String])? {
        guard case .scalar(let scalar) = node else {
            report(node, path, "expected a single value, found \(describe(node))")
            return nil
        }
        referenced.formUnion(Interpolator.references(in: scalar.string))
        switch interpolator.interpolate(scalar.string) {
        case .success(let result):
            return (result.value, result.unset)
        case .failure(let failure):
            report(node, path, failure.message)
            return nil
        }
    }

    func string(_ node: Node, _ path: [String]) -> String? {
        scalar(node, path)?.text
    }

    func int(_ node: Node, _ path: [String], in range: ClosedRange<Int>, what: String = "an integer") -> Int? {
        guard let text = string(node, path) else { return nil }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            report(node, path, "expected \(what) \(range.lowerBound)–\(range.upperBound), found \(quoted(text))")
            return nil
        }
        return value
    }

    func double(_ node: Node, _ path: [String], in range: ClosedRange<Double>) -> Double? {
        guard let text = string(node, path) else { return nil }
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite, range.contains(value) else {
            report(node, path, "expected a number \(format(range.lowerBound))–\(format(range.upperBound)), found \(quoted(text))")
            return nil
        }
        return value
    }

    func bool(_ node: Node, _ path: [String]) -> Bool? {
        guard let text = string(node, path) else { return nil }
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0", "": return false
        default:
            report(node, path, "expected true or false, found \(quoted(text))")
            return nil
        }
    }

    func duration(_ node: Node, _ path: [String], minimum: SpecDuration = SpecDuration(milliseconds: 1)) -> SpecDuration? {
        guard let text = string(node, path) else { return nil }
        guard let value = SpecDuration(parsing: text) else {
            report(node, path, "expected a duration such as 500ms, 2s or 5m, found \(quoted(text))")
            return nil
        }
        guard value >= minimum else {
            report(node, path, "must be at least \(minimum), found \(quoted(text))")
            return nil
        }
        return value
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let scalar): return quoted(scalar.string)
        case .alias: return "an alias"
        }
    }

    func quoted(_ text: String) -> String {
        let clipped = text.count > 60 ? String(text.prefix(57)) + "..." : text
        var escaped = ""
        for scalar in clipped.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    escaped += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        return "\"\(escaped)\""
    }

    private func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

enum Suggestion {
    /// The allowed word closest to `word` by edit distance, if it is close enough to be a typo.
    static func closest(to word: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(word.lowercased(), $0)) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        let limit = max(2, word.count / 3)
        return best.1 <= limit ? best.0 : nil
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            previous = current
        }
        return previous[b.count]
    }
}
