import Foundation

/// A thread beside the watcher's log loop that wakes on a period and ends when asked: the live
/// prober and the certificate renewal each run on one. `pause` returns false once `stop` was
/// called, at once, whatever is left of the wait.
final class BackgroundLoop: @unchecked Sendable {
    private let name: String
    private let stopped = NSCondition()
    private var stopping = false
    private var thread: Thread?

    init(name: String) { self.name = name }

    func start(_ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = name
        self.thread = thread
        thread.start()
    }

    /// Waits `seconds`; false when the loop is to end.
    func pause(_ seconds: Double) -> Bool {
        stopped.lock()
        defer { stopped.unlock() }
        if !stopping { _ = stopped.wait(until: Date(timeIntervalSinceNow: seconds)) }
        return !stopping
    }

    /// Returns once the thread has ended (the body returns at its next `pause`).
    func stop() {
        stopped.lock()
        stopping = true
        stopped.broadcast()
        stopped.unlock()
        while thread?.isFinished == false { usleep(10_000) }
    }
}
