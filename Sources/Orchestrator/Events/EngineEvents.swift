import Foundation
import Watcher

/// The Docker engine's `GET /events` for one project's containers: the request, and each message of
/// the stream checked and reduced to a `ContainerEvent`. Pure.
public enum EngineEvents {
    /// What the stack alerts on (`die`, `oom`, `health_status`), what ends an outage (`start`,
    /// `restart`), and what tells an operation's removal from a death (`kill`, `destroy`).
    public static let actions = ["die", "oom", "health_status", "start", "restart", "kill", "destroy"]
    /// A message longer than this is dropped: the engine's are a few hundred bytes plus the labels.
    public static let maxMessage = 64 * 1024

    /// One message of the stream, checked.
    public struct Message: Sendable, Equatable {
        public var event: ContainerEvent
        /// The container's id, the action as the engine spelled it, the time: two messages with the
        /// same key are one event delivered twice (once before a reconnect, once after, at `since`).
        public var key: String
    }

    /// `/events?filters=…&since=…`: this project's containers, the actions above. `since` is in
    /// nanoseconds since the epoch; the engine includes events stamped exactly then.
    public static func path(project: String, since: Int64?) -> String {
        let filters = "{\"event\":[\(actions.map { "\"\($0)\"" }.joined(separator: ","))],"
            + "\"label\":[\"\(Docker.label)=\(project)\"],\"type\":[\"container\"]}"
        var path = "/events?filters=" + percentEncoded(filters)
        if let since { path += "&since=" + sinceText(since) }
        return path
    }

    /// Seconds and nine digits of nanoseconds, as the engine's `since` reads them (`1795706212.000000042`).
    public static func sinceText(_ nanoseconds: Int64) -> String {
        let seconds = nanoseconds / 1_000_000_000
        let fraction = String(nanoseconds % 1_000_000_000)
        return "\(seconds)." + String(repeating: "0", count: 9 - fraction.count) + fraction
    }

    /// One line of the stream → the event, or nil: not a container event of `project`, an action not
    /// asked for, a role not bgctl's, or any field out of `ContainerEvent`'s bounds.
    public static func parse(_ line: UnsafeRawBufferPointer, project: String) -> Message? {
        guard !line.isEmpty, line.count <= maxMessage,
              let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
              object["Type"] as? String == "container",
              let actionText = object["Action"] as? String,
              let actor = object["Actor"] as? [String: Any], let id = actor["ID"] as? String, !id.isEmpty, id.utf8.count <= 128,
              let attributes = actor["Attributes"] as? [String: Any],
              attributes[Docker.label] as? String == project,
              let name = attributes["name"] as? String,
              let role = (attributes[Docker.roleLabel] as? String).flatMap(ContainerEvent.Role.init(rawValue:)),
              let time = ContainerEvent.integer(object["timeNano"]) else { return nil }
        let action: ContainerEvent.Action
        var health: ContainerEvent.Health?
        let healthPrefix = "health_status: "
        if actionText.hasPrefix(healthPrefix) {
            guard let status = ContainerEvent.Health(rawValue: String(actionText.dropFirst(healthPrefix.count))) else { return nil }
            action = .healthStatus
            health = status
        } else {
            guard let plain = ContainerEvent.Action(rawValue: actionText), plain != .healthStatus else { return nil }
            action = plain
        }
        var event = ContainerEvent(timeNano: time, container: name, role: role, action: action, health: health)
        if role == .pool { event.pool = attributes[Docker.poolLabel] as? String }
        if role == .service { event.service = attributes[serviceLabel] as? String }
        if action == .die, let text = attributes["exitCode"] as? String {
            guard text.utf8.count <= 11, let code = Int(text) else { return nil }
            event.exitCode = code
        }
        guard event.isValid else { return nil }
        return Message(event: event, key: "\(id) \(actionText) \(time)")
    }

    /// A service's name, on the containers of a spec's `services:`.
    public static let serviceLabel = "io.bgctl.service"

    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let unreserved = (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~")
            out += unreserved ? String(UnicodeScalar(byte)) : String(format: "%%%02X", byte)
        }
        return out
    }
}

/// Splits a byte stream into lines of at most `maxLine` bytes; a longer line is dropped whole
/// (counted), never cut into pieces that might parse.
public struct StreamLines: Sendable {
    public let maxLine: Int
    public private(set) var dropped = 0
    private var buffer: [UInt8] = []
    private var overflowing = false

    public init(maxLine: Int) { self.maxLine = maxLine }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ onLine: (UnsafeRawBufferPointer) -> Void) {
        var start = 0
        while start < bytes.count {
            guard let newline = bytes[start...].firstIndex(of: 0x0A) else {
                append(UnsafeRawBufferPointer(rebasing: bytes[start...]))
                return
            }
            append(UnsafeRawBufferPointer(rebasing: bytes[start..<newline]))
            if overflowing {
                dropped += 1
            } else {
                var line = buffer
                if line.last == 0x0D { line.removeLast() }
                if !line.isEmpty { line.withUnsafeBytes(onLine) }
            }
            buffer.removeAll(keepingCapacity: true)
            overflowing = false
            start = newline + 1
        }
    }

    /// Bytes of an unfinished line are forgotten (a stream that ended mid-line).
    public mutating func reset() {
        buffer.removeAll(keepingCapacity: true)
        overflowing = false
    }

    private mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard !overflowing else { return }
        if buffer.count + bytes.count > maxLine {
            overflowing = true
            buffer.removeAll(keepingCapacity: true)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }
}
