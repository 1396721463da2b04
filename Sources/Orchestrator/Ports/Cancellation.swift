import Foundation
import Synchronization

/// SIGINT, SIGTERM and SIGHUP ask a running operation to stop at its next safe point. The handler only
/// sets a flag (a lock-free atomic is async-signal-safe); operations read it between steps, so a second
/// signal cannot cut a restore or a rollback short.
public enum Cancellation {
    private static let flag = Atomic<Int>(0)

    public static var requested: Bool { flag.load(ordering: .relaxed) != 0 }

    public static func install() {
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signal(number) { _ in Cancellation.flag.store(1, ordering: .relaxed) }
        }
    }
}
