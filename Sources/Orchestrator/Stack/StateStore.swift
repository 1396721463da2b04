import Foundation
import NginxConfigGen

/// What bgctl remembers about a stack between commands (state.json).
public struct StackState: Codable, Sendable, Equatable {
    public var project: String
    public var live: Pool
    public var updatedAt: String
    public var lastSwitch: HistoryEntry?

    enum CodingKeys: String, CodingKey {
        case project, live
        case updatedAt = "updated_at"
        case lastSwitch = "last_switch"
    }
}

/// One line of history.jsonl: an audit record of something bgctl changed.
public struct HistoryEntry: Codable, Sendable, Equatable {
    public var time: String
    public var action: String
    public var from: Pool?
    public var to: Pool?
    public var who: String
    public var reason: String?
    public var result: String
    public var durationMs: Int?
    public var detail: String?

    public init(time: String, action: String, from: Pool? = nil, to: Pool? = nil, who: String, reason: String? = nil,
                result: String, durationMs: Int? = nil, detail: String? = nil) {
        self.time = time
        self.action = action
        self.from = from
        self.to = to
        self.who = who
        self.reason = reason
        self.result = result
        self.durationMs = durationMs
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey {
        case time, action, from, to, who, reason, result, detail
        case durationMs = "duration_ms"
    }
}

public enum StateStore {
    public static func load(_ paths: StackPaths) throws -> StackState? {
        guard let data = FileManager.default.contents(atPath: paths.stateFile) else { return nil }
        do {
            return try JSONDecoder().decode(StackState.self, from: data)
        } catch {
            throw OrchestratorError.state("cannot read \(paths.stateFile): \(error). Move it aside and run bgctl up.")
        }
    }

    public static func save(_ state: StackState, _ paths: StackPaths) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(state)
        try AtomicWriter.write(String(decoding: data, as: UTF8.self) + "\n", to: paths.stateFile)
    }

    /// Appends one JSON line with O_APPEND, so concurrent writers never interleave within a line.
    public static func append(_ entry: HistoryEntry, _ paths: StackPaths) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(entry)
        data.append(0x0A)
        try FileManager.default.createDirectory(atPath: paths.stateDir, withIntermediateDirectories: true)
        let fd = open(paths.historyFile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OrchestratorError.state("cannot open \(paths.historyFile): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == data.count else { throw OrchestratorError.state("cannot append to \(paths.historyFile)") }
    }

    public static func history(_ paths: StackPaths) -> [HistoryEntry] {
        guard let data = FileManager.default.contents(atPath: paths.historyFile) else { return [] }
        return data.split(separator: 0x0A).compactMap { try? JSONDecoder().decode(HistoryEntry.self, from: Data($0)) }
    }

    public static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }

    /// The person or pipeline acting: $USER, with a CI run id when one is present.
    public static func who(environment: [String: String]) -> String {
        let user = environment["USER"] ?? environment["LOGNAME"] ?? String(cString: getpwuid(getuid())?.pointee.pw_name ?? strdup("uid\(getuid())"))
        let ci = [("GITHUB_RUN_ID", "github run"), ("CI_PIPELINE_ID", "gitlab pipeline"), ("BUILD_ID", "build")]
            .first { environment[$0.0] != nil }
        if let (key, label) = ci { return "\(user) (\(label) \(environment[key]!))" }
        return user
    }
}
