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

/// A spec that could not be loaded; `issues` holds every problem found, in file order.
public struct SpecError: Error, Sendable, CustomStringConvertible {
    public let issues: [SpecIssue]

    public init(issues: [SpecIssue]) {
        self.issues = issues
    }

    public var description: String { issues.map(\.description).joined(separator: "\n") }
}
