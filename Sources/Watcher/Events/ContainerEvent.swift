import Foundation

/// One Docker engine event about one of the stack's containers, as the events container writes it to
/// `events.jsonl` and the watcher reads it back: one compact JSON object per line, every field
/// bounded and checked on both sides. A line with any field out of bounds is no event at all.
///
/// `{"action":"die","container":"shop-green","exit_code":137,"pool":"green","role":"pool","time_nano":1795706212123456789}`
public struct ContainerEvent: Sendable, Equatable {
    /// The engine actions the events container asks for (`health_status` carries `health`). `destroy`
    /// tells a container removed by an operation (up, deploy, down) from one that died.
    public enum Action: String, Sendable, CaseIterable {
        case die, oom, kill, start, restart, destroy
        case healthStatus = "health_status"
    }

    /// The container's `io.bgctl.role` label.
    public enum Role: String, Sendable, CaseIterable {
        case pool, proxy, watcher, events, service, front
    }

    public enum Health: String, Sendable, CaseIterable {
        case healthy, unhealthy
    }

    /// Nanoseconds since the epoch, as the engine stamps the event (`timeNano`).
    public var timeNano: Int64
    public var container: String
    public var role: Role
    /// `blue` or `green`, for a pool's container only.
    public var pool: String?
    /// A service's name (`io.bgctl.service`), for a service's container only.
    public var service: String?
    public var action: Action
    /// A `die` event's exit code.
    public var exitCode: Int?
    /// A `health_status` event's new status (required there, absent elsewhere).
    public var health: Health?

    /// The longest line either side accepts; a longer one is dropped unread.
    public static let maxLine = 1024
    /// Container and service names: Docker's own charset, at most this long.
    public static let maxName = 128
    /// Events stamped outside 2000…2200 are not from an engine clock.
    static let timeRange: ClosedRange<Int64> = 946_684_800_000_000_000...7_258_118_400_000_000_000

    public init(timeNano: Int64, container: String, role: Role, pool: String? = nil, service: String? = nil,
                action: Action, exitCode: Int? = nil, health: Health? = nil) {
        self.timeNano = timeNano
        self.container = container
        self.role = role
        self.pool = pool
        self.service = service
        self.action = action
        self.exitCode = exitCode
        self.health = health
    }

    /// Seconds since the epoch.
    public var time: Double { Double(timeNano) / 1e9 }

    /// The action as the metrics label it: a health event by its new status (`healthy`, `unhealthy`).
    public var metricAction: String { health?.rawValue ?? action.rawValue }

    /// Whether every field is within its bounds: the one check the writer and the reader share.
    public var isValid: Bool {
        guard Self.timeRange.contains(timeNano), Self.isName(container) else { return false }
        if let pool, role != .pool || !(pool == "blue" || pool == "green") { return false }
        if role == .pool && pool == nil { return false }
        if let service, role != .service || !Self.isName(service) { return false }
        if let exitCode, action != .die || !(Int(Int32.min)...Int(Int32.max)).contains(exitCode) { return false }
        if (action == .healthStatus) != (health != nil) { return false }
        return true
    }

    /// A container or service name as Docker allows it: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, 1…128 bytes.
    public static func isName(_ name: String) -> Bool {
        let bytes = name.utf8
        guard let first = bytes.first, bytes.count <= maxName, isAlphanumeric(first) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    /// The line the events container writes (no newline): keys sorted, values already checked to need
    /// no escaping. Nil for an event that is not `isValid`.
    public var line: String? {
        guard isValid else { return nil }
        var fields = ["\"action\":\"\(action.rawValue)\"", "\"container\":\"\(container)\""]
        if let exitCode { fields.append("\"exit_code\":\(exitCode)") }
        if let health { fields.append("\"health\":\"\(health.rawValue)\"") }
        if let pool { fields.append("\"pool\":\"\(pool)\"") }
        fields.append("\"role\":\"\(role.rawValue)\"")
        if let service { fields.append("\"service\":\"\(service)\"") }
        fields.append("\"time_nano\":\(timeNano)")
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// One line of `events.jsonl` (without its newline) → the event, or nil: not JSON, over
    /// `maxLine`, a field of the wrong type or out of bounds, an action or role or health status not
    /// in the lists above. Keys it does not know are ignored. Never throws.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> ContainerEvent? {
        guard !bytes.isEmpty, bytes.count <= maxLine, bytes.first == UInt8(ascii: "{") else { return nil }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else { return nil }
        return from(object)
    }

    public static func parse(_ line: String) -> ContainerEvent? {
        var copy = line
        return copy.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    static func from(_ object: [String: Any]) -> ContainerEvent? {
        guard let time = integer(object["time_nano"]), let container = object["container"] as? String,
              let role = (object["role"] as? String).flatMap(Role.init(rawValue:)),
              let action = (object["action"] as? String).flatMap(Action.init(rawValue:)) else { return nil }
        var event = ContainerEvent(timeNano: time, container: container, role: role, action: action)
        if let value = object["pool"] { guard let pool = value as? String else { return nil }; event.pool = pool }
        if let value = object["service"] { guard let service = value as? String else { return nil }; event.service = service }
        if let value = object["exit_code"] {
            guard let code = integer(value), let exit = Int(exactly: code) else { return nil }
            event.exitCode = exit
        }
        if let value = object["health"] {
            guard let health = (value as? String).flatMap(Health.init(rawValue:)) else { return nil }
            event.health = health
        }
        return event.isValid ? event : nil
    }

    /// A JSON integer, exactly: not a string of digits, not 1.5 or 1.0 or 1e3 (doubles in the file), not
    /// `true` (which Foundation hands over as an NSNumber of type `c`).
    public static func integer(_ value: Any?) -> Int64? {
        guard let number = value as? NSNumber else { return nil }
        switch String(cString: number.objCType) {
        case "q", "l", "i", "s": return number.int64Value
        default: return nil
        }
    }
}
