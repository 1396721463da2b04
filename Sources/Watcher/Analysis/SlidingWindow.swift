/// The last `capacity` requests that are also no older than `seconds`, with running counts. Adding and
/// expiring are O(1); nothing is recomputed per request.
public struct SlidingWindow: Sendable, Equatable {
    struct Entry: Equatable {
        var time: Double
        var error: Bool
        var retried: Bool
    }

    public let capacity: Int
    public let seconds: Double
    private var ring: [Entry]
    private var head = 0
    public private(set) var count = 0
    public private(set) var errors = 0
    public private(set) var retried = 0

    public init(capacity: Int, seconds: Double) {
        self.capacity = max(1, capacity)
        self.seconds = seconds
        self.ring = []
        self.ring.reserveCapacity(min(self.capacity, 4096))
    }

    public mutating func add(time: Double, error: Bool, retried: Bool) {
        if count == capacity { removeOldest() }
        let entry = Entry(time: time, error: error, retried: retried)
        let index = (head + count) % capacity
        if index < ring.count { ring[index] = entry } else { ring.append(entry) }
        count += 1
        if error { errors += 1 }
        if retried { self.retried += 1 }
    }

    /// Drops requests older than `seconds` before `now`.
    public mutating func expire(now: Double) {
        while count > 0, ring[head].time < now - seconds { removeOldest() }
    }

    private mutating func removeOldest() {
        let oldest = ring[head]
        if oldest.error { errors -= 1 }
        if oldest.retried { retried -= 1 }
        head = (head + 1) % capacity
        count -= 1
    }

    public var errorRate: Double { count == 0 ? 0 : Double(errors) * 100 / Double(count) }
    public var retryRate: Double { count == 0 ? 0 : Double(retried) * 100 / Double(count) }
}
