import Foundation
import Support

/// `maintenance.json`: whether alerts are held back, who said so, when and why. `bgctl maintenance`
/// writes it; a running watcher rereads it. The JSON keys are those of earlier versions
/// (`maintenance`, `by`, `at`, `reason`), so their files still read; missing text fields read as "".
public struct MaintenanceState: Codable, Sendable, Equatable {
    public var on: Bool
    public var by: String
    public var at: String
    public var reason: String

    /// Larger files are not ours: they are refused, not read.
    public static let maxFileSize = 64 * 1024

    public init(on: Bool, by: String, at: String, reason: String) {
        self.on = on
        self.by = by
        self.at = at
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case on = "maintenance"
        case by, at, reason
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        on = try c.decode(Bool.self, forKey: .on)
        by = try c.decodeIfPresent(String.self, forKey: .by) ?? ""
        at = try c.decodeIfPresent(String.self, forKey: .at) ?? ""
        reason = try c.decodeIfPresent(String.self, forKey: .reason) ?? ""
    }

    /// The state in the file, or nil when the file is absent, unreadable, over `maxFileSize`, or not
    /// such a JSON object.
    public static func load(path: String) -> MaintenanceState? {
        guard let bytes = BoundedRead.contents(of: path, limit: maxFileSize) else { return nil }
        return try? JSONDecoder().decode(MaintenanceState.self, from: Data(bytes))
    }

    /// Writes the file atomically with mode 0600 (sorted keys, one line). Throws `WriteError`.
    public func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(try encoder.encode(self) + Data("\n".utf8), to: path, mode: 0o600)
    }
}
