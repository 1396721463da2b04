/// One problem found in a spec, located at the YAML node it concerns.
public struct SpecIssue: Sendable, Hashable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let column: Int
    /// Dotted key path such as `pools.green.preview_port`; empty for a file-level problem.
    public let path: String
    public let message: String

    public init(file: String, line: Int, column: Int, path: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    /// `FILE:LINE:COL: key.path: message`, the form compilers use so editors can jump to it.
    public var description: String {
        let location = "\(file):\(line):\(column)"
        return path.isEmpty ? "\(location): \(message)" : "\(location): \(path): \(message)"
    }
}

/// A spec that could not be loaded; `issues` holds the first problems found, in file order.
public struct SpecError: Error, Sendable, CustomStringConvertible {
    /// At most this many issues are kept: a wrong file can hold a million mistakes.
    public static let maxIssues = 50

    public let issues: [SpecIssue]
    /// Problems found beyond `issues` and not listed.
    public let omitted: Int

    /// Keeps the first `maxIssues` issues in file order and counts the rest in `omitted`.
    public init(issues: [SpecIssue], omitted: Int = 0) {
        let sorted = issues.count > 1 ? issues.sorted { ($0.line, $0.column) < ($1.line, $1.column) } : issues
        self.issues = Array(sorted.prefix(Self.maxIssues))
        self.omitted = omitted + max(0, sorted.count - Self.maxIssues)
    }

    /// Every problem found, listed or not.
    public var problemCount: Int { issues.count + omitted }

    public var description: String {
        let listed = issues.map(\.description).joined(separator: "\n")
        return omitted == 0 ? listed : listed + "\n… and \(omitted) more problem\(omitted == 1 ? "" : "s")"
    }
}
