/// What to tell people, decided from detections: one message when a condition starts, one when it
/// ends, and a repeat of a still-firing alert only after `cooldown`. A condition that starts again
/// within the cooldown of its last message is not announced again (and neither is its end). Each
/// kind and subject (`Detection.subject`: a crash-looping service, a pool) is an alert of its own.
public struct AlertNotification: Sendable, Equatable {
    public enum State: String, Sendable, Codable {
        case firing
        case resolved
        case repeating
    }

    public var state: State
    public var detection: Detection
    /// Maintenance mode: logged, not sent.
    public var suppressed: Bool
}

public struct AlertBook: Sendable {
    struct Entry {
        var firing = false
        var announced = false
        var lastSent: Double?
        var latest: Detection?
    }

    struct Key: Hashable, Comparable {
        var kind: AlertKind
        var subject: String

        /// The kinds in their declared order, then subjects by name: repeats go out in a stable order.
        static func < (lhs: Key, rhs: Key) -> Bool {
            let order = AlertKind.allCases
            let (l, r) = (order.firstIndex(of: lhs.kind) ?? 0, order.firstIndex(of: rhs.kind) ?? 0)
            return l != r ? l < r : lhs.subject < rhs.subject
        }
    }

    public let cooldown: Double
    private var entries: [Key: Entry] = [:]

    public init(cooldown: Double) {
        self.cooldown = cooldown
    }

    public mutating func process(_ detection: Detection, maintenance: Bool) -> [AlertNotification] {
        let key = Key(kind: detection.kind, subject: detection.subject)
        var entry = entries[key] ?? Entry()
        var out: [AlertNotification] = []
        entry.latest = detection
        if detection.firing {
            entry.firing = true
            if let last = entry.lastSent, detection.at - last < cooldown {
                entry.announced = false
            } else {
                entry.announced = true
                entry.lastSent = detection.at
                out.append(AlertNotification(state: .firing, detection: detection, suppressed: maintenance))
            }
        } else if entry.firing {
            entry.firing = false
            if entry.announced {
                out.append(AlertNotification(state: .resolved, detection: detection, suppressed: maintenance))
            }
            entry.announced = false
        }
        entries[key] = entry
        return out
    }

    /// Repeats alerts that are still firing once their cooldown has passed.
    public mutating func tick(now: Double, current: (AlertKind) -> Detection?, maintenance: Bool) -> [AlertNotification] {
        tick(now: now, current: { kind, _ in current(kind) }, maintenance: maintenance)
    }

    /// The same, for alerts with subjects: `current` is asked for each kind and subject still firing.
    public mutating func tick(now: Double, current: (AlertKind, String) -> Detection?, maintenance: Bool) -> [AlertNotification] {
        var out: [AlertNotification] = []
        for key in entries.keys.sorted() {
            guard var entry = entries[key], entry.firing, let last = entry.lastSent, now - last >= cooldown,
                  let detection = current(key.kind, key.subject) else { continue }
            entry.lastSent = now
            entry.announced = true
            entries[key] = entry
            out.append(AlertNotification(state: .repeating, detection: detection, suppressed: maintenance))
        }
        return out
    }

    /// Whether any alert of this kind (any subject) is firing.
    public func isFiring(_ kind: AlertKind) -> Bool { entries.contains { $0.key.kind == kind && $0.value.firing } }

    public func isFiring(_ kind: AlertKind, subject: String) -> Bool { entries[Key(kind: kind, subject: subject)]?.firing ?? false }
}
