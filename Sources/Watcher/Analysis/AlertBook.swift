/// What to tell people, decided from detections: one message when a condition starts, one when it
/// ends, and a repeat of a still-firing alert only after `cooldown`. A condition that starts again
/// within the cooldown of its last message is not announced again (and neither is its end).
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

    public let cooldown: Double
    private var entries: [AlertKind: Entry] = [:]

    public init(cooldown: Double) {
        self.cooldown = cooldown
    }

    public mutating func process(_ detection: Detection, maintenance: Bool) -> [AlertNotification] {
        var entry = entries[detection.kind] ?? Entry()
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
        entries[detection.kind] = entry
        return out
    }

    /// Repeats alerts that are still firing once their cooldown has passed.
    public mutating func tick(now: Double, current: (AlertKind) -> Detection?, maintenance: Bool) -> [AlertNotification] {
        var out: [AlertNotification] = []
        for kind in AlertKind.allCases {
            guard var entry = entries[kind], entry.firing, let last = entry.lastSent, now - last >= cooldown,
                  let detection = current(kind) else { continue }
            entry.lastSent = now
            entry.announced = true
            entries[kind] = entry
            out.append(AlertNotification(state: .repeating, detection: detection, suppressed: maintenance))
        }
        return out
    }

    public func isFiring(_ kind: AlertKind) -> Bool { entries[kind]?.firing ?? false }
}
