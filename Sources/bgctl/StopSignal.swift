import Foundation
import Synchronization

/// bgctl's one signal flag. SIGINT and SIGTERM (and SIGHUP, for operations) ask the command to stop:
/// operations read it at their next safe point (`Ports.cancelled`), so a second signal cannot cut a
/// restore or a rollback short; `watch` reads it between lines and prints its summary.
enum StopSignal {
    /// Set from the signal handler: a lock-free atomic is async-signal-safe.
    private static let flag = Atomic<Int>(0)

    static var requested: Bool { flag.load(ordering: .relaxed) != 0 }

    /// `hangup`: SIGHUP stops too (a closed terminal must not kill a deploy between two steps).
    static func install(hangup: Bool = true) {
        let numbers = [SIGINT, SIGTERM] + (hangup ? [SIGHUP] : [])
        var set = sigset_t()
        sigemptyset(&set)
        for number in numbers {
            signal(number) { _ in StopSignal.flag.store(1, ordering: .relaxed) }
            sigaddset(&set, number)
        }
        // A parent may have started bgctl with them blocked (the mask is inherited): unblocked, they reach the handler.
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}
