import Yams

/// Walks a composed YAML tree, interpolating scalars and collecting every problem with its position.
/// Each accessor returns nil after recording an issue, so decoding carries on past mistakes.
final class NodeReader {
    let file: String
    let interpolator: Interpolator
    private(set) var issues: [SpecIssue] = []
    /// Issues past `keptIssues`, counted but not kept: a wrong file can hold a million mistakes.
    private(set) var dropped = 0
    /// Kept for sorting before the first `SpecError.maxIssues` are shown; decoding runs in file
    /// order, so the ones kept are the earliest.
    static let keptIssues = 200
    /// Every variable a scalar referred to, set or not, with the dotted key paths of those scalars.
    private(set) var references: [String: Set<String>] = [:]
    /// What the spec is read for; `.watcher` excuses unset variables outside the keys the watcher reads.
    let purpose: SpecPurpose
    /// Scalars outside the watcher's keys that referred to variables the watcher was not given: their
    /// value is not the spec's, so nothing is reported about it.
    private var excused: Set<Position> = []

    private struct Position: Hashable {
        let line: Int
        let column: Int

        init?(_ node: Node?) {
            guard let mark = node?.mark else { return nil }
            (line, column) = (mark.line, mark.column)
        }
    }
    /// One per variable that a scalar used without a default while it was unset, at its first use,
    /// and one per value that is valid but risky (see `warn`).
    private(set) var warnings: [SpecIssue] = []
    /// Variables already warned about (in the `.env`, or here).
    private var warned: Set<String>

    init(file: String, interpolator: Interpolator, warned: Set<String> = [], purpose: SpecPurpose = .stack) {
        self.file = file
        self.interpolator = interpolator
        self.warned = warned
        self.purpose = purpose
    }

    /// Records a problem; `message` is built only while fewer than `keptIssues` are kept.
    func report(_ node: Node?, _ path: [String], _ message: @autoclosure () -> String) {
        if let position = Position(node), excused.contains(position) { return }
        guard issues.count < Self.keptIssues else {
            dropped += 1
            return
        }
        let mark = node?.mark
        issues.append(SpecIssue(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1,
                                path: path.map(Self.pathComponent).joined(separator: "."), message: message()))
    }

    /// Records a warning: the spec stays valid, the person hears of it wherever it is loaded.
    func warn(_ node: Node?, _ path: [String], _ message: String) {
        let mark = node?.mark
        warnings.append(SpecIssue(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1,
                                  path: path.map(Self.pathComponent).joined(separator: "."), message: message))
    }

    /// A key as it appears in an issue's path: as written when it looks like a key, else quoted
    /// (clipped and redacted) so a URL pasted as a key does not print whole.
    static func pathComponent(_ key: String) -> String {
        let plain = key.utf8.count <= 64 && !key.isEmpty
            && key.unicodeScalars.allSatisfy { Syntax.isWord($0) || "-.[]".unicodeScalars.contains($0) }
        return plain ? key : Quote.value(key)
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
            report(node, path, "expected a mapping, found \(describe(node, path))")
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
                report(keyNode, path + [name], self.unknownKey(name, allowed: allowed))
                continue
            }
            entries[name] = value
        }
        return entries
    }

    private func unknownKey(_ name: String, allowed: [String]) -> String {
        let message = "unknown key \(quoted(name))"
        if let suggestion = Suggestion.closest(to: name, in: allowed) {
            return message + "; did you mean \"\(suggestion)\"?"
        }
        return message + "; expected one of: \(allowed.joined(separator: ", "))"
    }

    /// A mapping with free-form keys (environment variables, headers), in key order.
    func freeMapping(_ node: Node, _ path: [String]) -> [(key: String, keyNode: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            if isNull(node) { return [] }
            report(node, path, "expected a mapping, found \(describe(node, path))")
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
            report(node, path, "expected a list, found \(describe(node, path))")
            return nil
        }
        return Array(sequence)
    }

    /// An interpolated scalar. `unset` lists variables the value referenced that were not set.
    func scalar(_ node: Node, _ path: [String]) -> (text: String, unset: [String])? {
        guard case .scalar(let scalar) = node else {
            report(node, path, "expected a single value, found \(describe(node, path))")
            return nil
        }
        let dotted = path.map(Self.pathComponent).joined(separator: ".")
        for name in Interpolator.references(in: scalar.string) { references[name, default: []].insert(dotted) }
        let excusable = purpose == .watcher && !DeploymentSpec.isWatcherKey(path)
        var interpolator = interpolator
        interpolator.requiredMayBeUnset = excusable
        switch interpolator.interpolate(scalar.string) {
        case .success(let result):
            if excusable && !result.unset.isEmpty {
                if let position = Position(node) { excused.insert(position) }
                return (result.value, result.unset)
            }
            let secret = Self.isSecretPath(path)
            for name in result.unset where secret || warned.insert(name).inserted {
                warnings.append(SpecIssue(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1,
                                          path: path.map(Self.pathComponent).joined(separator: "."),
                                          message: SpecLoader.unsetMessage(secret ? nil : name)))
                if secret { break }
            }
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
        guard let value = Syntax.integer(text), range.contains(value) else {
            report(node, path, "expected \(what) \(range.lowerBound)–\(range.upperBound), found \(quoted(text))")
            return nil
        }
        return value
    }

    func double(_ node: Node, _ path: [String], in range: ClosedRange<Double>) -> Double? {
        guard let text = string(node, path) else { return nil }
        guard let value = Syntax.decimal(text), value.isFinite, range.contains(value) else {
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
        switch SpecDuration.parse(text, atLeast: minimum) {
        case .success(let value):
            return value
        case .failure(let problem):
            report(node, path, problem.message(found: quoted(text)))
            return nil
        }
    }

    /// Keys under which any value may be a secret: a value found there is described, never quoted.
    static func isSecretPath(_ path: [String]) -> Bool {
        path.contains { $0 == "alerts" || $0 == "env" || $0 == "headers" }
    }

    func describe(_ node: Node, _ path: [String]) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let scalar): return Self.isSecretPath(path) ? "a single value (not shown: it may be a secret)" : quoted(scalar.string)
        case .alias: return "an alias"
        }
    }

    /// A found value for a message: clipped, escaped, URLs cut back to their host (see `Quote`).
    func quoted(_ text: String) -> String {
        Quote.value(text)
    }

    private func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

enum Suggestion {
    /// The allowed word closest to `word` by edit distance, if it is close enough to be a typo.
    static func closest(to word: String, in candidates: [String]) -> String? {
        // A long word is no typo of a short key, and edit distance costs its length times theirs.
        guard word.count <= 64 else { return nil }
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
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
