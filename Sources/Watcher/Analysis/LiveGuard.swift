/// Decides when the watcher moves traffic off a live pool that stopped answering, without waiting for
/// nginx's passive checks (which let a hung pool cost every request a `read_timeout`, and retry it
/// after each `fail_timeout`). Pure: probe results and the route in force go in, a decision comes out.
///
/// It moves only when the live pool failed `failures` probes in a row and the other pool answered its
/// latest one; never during a canary; and once it moved, never again until a person moves the route
/// (no flapping: the route does not go back by itself when the pool recovers).
public struct LiveGuard: Sendable, Equatable {
    public enum Decision: Sendable, Equatable {
        case none
        /// Set the route to `to` alone, if it still is `from` alone.
        case move(from: String, to: String)
        /// A person moved the route after the watcher's move: the watcher holds nothing any more.
        case released(from: String, to: String)
    }

    public let failures: Int
    private var streak = 0
    /// The route the watcher set, while it is the one in force.
    private var held: (from: String, to: String)?

    public init(failures: Int = 3) {
        self.failures = max(1, failures)
    }

    public var holding: Bool { held != nil }

    /// Drops a move that did not take (the route changed meanwhile, or could not be written).
    public mutating func forget() {
        held = nil
        streak = 0
    }

    /// `live`: the route's live pool; `canary`: the route has a canary share; `other`: the other pool.
    public mutating func observe(live: String, other: String, canary: Bool, liveAnswered: Bool, otherAnswered: Bool) -> Decision {
        if let held {
            guard live != held.to || canary else { return .none }
            self.held = nil
            streak = 0
            return .released(from: held.from, to: held.to)
        }
        guard !canary, !liveAnswered else {
            streak = 0
            return .none
        }
        streak += 1
        guard streak >= failures, otherAnswered else { return .none }
        streak = 0
        held = (live, other)
        return .move(from: live, to: other)
    }

    public static func == (lhs: LiveGuard, rhs: LiveGuard) -> Bool {
        lhs.failures == rhs.failures && lhs.streak == rhs.streak && lhs.held?.from == rhs.held?.from && lhs.held?.to == rhs.held?.to
    }
}
