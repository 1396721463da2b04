import Foundation
@testable import ACME

/// Monotonic time that moves only when the client sleeps; every sleep is recorded, none is real.
final class FakeClock: @unchecked Sendable {
    private let lock = NSLock()
    private var time: Double
    private var slept: [Double] = []

    init(start: Double = 1_000) { time = start }

    var now: Double { lock.withLock { time } }
    var sleeps: [Double] { lock.withLock { slept } }
    var totalSlept: Double { sleeps.reduce(0, +) }

    func advance(_ seconds: Double) { lock.withLock { time += seconds } }

    var clock: ACMEClock {
        ACMEClock(monotonic: { self.now }, sleep: { seconds in
            self.lock.withLock {
                self.slept.append(seconds)
                self.time += seconds
            }
        })
    }
}

/// What the client's callbacks saw: events, and the tokens published and unpublished, in order.
final class Recorder: @unchecked Sendable {
    private let lock = NSLock()
    private var _events: [ACMEEvent] = []

    var events: [ACMEEvent] { lock.withLock { _events } }
    func report(_ event: ACMEEvent) { lock.withLock { _events.append(event) } }
}
