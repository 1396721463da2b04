import Foundation
import Synchronization

/// Blocking work run side by side on Dispatch's pool. Results are collected under a `Mutex`; callers
/// get them back in order once every job has finished.
enum Parallel {
    static func map<T: Sendable, R: Sendable>(_ items: [T], _ body: @Sendable (T) -> R) -> [R] {
        let slots = Mutex<[R?]>(Array(repeating: nil, count: items.count))
        DispatchQueue.concurrentPerform(iterations: items.count) { index in
            let result = body(items[index])
            slots.withLock { $0[index] = result }
        }
        return slots.withLock { $0.map { $0! } }
    }

    /// Blocking jobs (docker commands, calls to hosts), each on a thread of its own so that all run at
    /// once whatever the number of cores (Dispatch's pool would run two at a time on two cores);
    /// results in order.
    /// At most `limit` at a time.
    static func threads<T: Sendable, R: Sendable>(_ items: [T], limit: Int = 16, _ body: @escaping @Sendable (T) -> R) -> [R] {
        let slots = Mutex<[R?]>(Array(repeating: nil, count: items.count))
        let group = DispatchGroup()
        let room = DispatchSemaphore(value: max(1, limit))
        for (index, item) in items.enumerated() {
            group.enter()
            room.wait()
            let thread = Thread {
                let result = body(item)
                slots.withLock { $0[index] = result }
                room.signal()
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        return slots.withLock { $0.map { $0! } }
    }

    /// Two jobs at the same time; both outcomes.
    static func both<A: Sendable, B: Sendable>(_ a: @Sendable () throws -> A, _ b: @Sendable () throws -> B)
        -> (Result<A, Error>, Result<B, Error>) {
        let first = Mutex<Result<A, Error>?>(nil)
        let second = Mutex<Result<B, Error>?>(nil)
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            if index == 0 {
                let result = Result { try a() }
                first.withLock { $0 = result }
            } else {
                let result = Result { try b() }
                second.withLock { $0 = result }
            }
        }
        return (first.withLock { $0! }, second.withLock { $0! })
    }
}
