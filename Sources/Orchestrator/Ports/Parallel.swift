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
