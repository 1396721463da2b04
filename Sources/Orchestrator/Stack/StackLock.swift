import Foundation
import Support

/// Serialises operations on one stack with flock(2) on state/lock. The kernel drops the lock when the
/// holder exits, however it exits, so a killed bgctl never leaves a stale lock; lock.json says who holds it.
public final class StackLock {
    public struct Holder: Codable, Sendable, Equatable, CustomStringConvertible {
        public var pid: Int32
        public var who: String
        public var command: String
        public var since: String

        public var description: String { "\(command) by \(who) (pid \(pid)) since \(since)" }
    }

    private let fd: Int32
    private let infoPath: String

    private init(fd: Int32, infoPath: String) {
        self.fd = fd
        self.infoPath = infoPath
    }

    /// Takes the lock, waiting up to `wait` seconds; `onWait` is called once with the holder if it must
    /// wait. A lock whose holder died is taken with a message (its lock.json is still there); a lock
    /// held longer than `ttl` is broken with a message, as `bgctl unlock` does.
    public static func acquire(_ paths: StackPaths, holder: Holder, wait: Double, ttl: Double = .infinity, clock: Clock = .system,
                               onWait: (Holder?) -> Void = { _ in }, onRecover: (String) -> Void = { _ in }) throws -> StackLock {
        do {
            try FileManager.default.createDirectory(atPath: paths.stateDir, withIntermediateDirectories: true)
        } catch {
            throw OrchestratorError.lockUnavailable(path: paths.lockFile, reason: (error as NSError).localizedDescription)
        }
        try paths.checkFolder()
        let deadline = clock.monotonic() + wait
        var told = false
        while true {
            let fd: Int32
            do {
                fd = try SafeOpen.file(paths.lockFile, flags: O_RDWR | O_CREAT, mode: 0o644)
            } catch let error as WriteError {
                throw OrchestratorError.lockUnavailable(path: paths.lockFile, reason: error.reason)
            }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                // The file may have been unlinked (broken) between open and flock: then lock the new one.
                var held = stat(), current = stat()
                guard fstat(fd, &held) == 0, stat(paths.lockFile, &current) == 0, held.st_ino == current.st_ino else {
                    close(fd)
                    continue
                }
                if let stale = readHolder(paths) {
                    onRecover("recovered the lock left by \(stale) (that process is gone)")
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                if let data = try? encoder.encode(holder) {
                    try? AtomicFile.write(data, to: paths.lockInfoFile, mode: 0o644)
                }
                return StackLock(fd: fd, infoPath: paths.lockInfoFile)
            }
            close(fd)
            let current = readHolder(paths)
            if let current, let since = Clock.parseISO(current.since), clock.now().timeIntervalSince(since) > ttl {
                onRecover("taking over the lock held by \(current): it is older than deploy.lock_ttl (\(Int(ttl)) s)")
                _ = breakLock(paths)
                continue
            }
            if clock.monotonic() >= deadline {
                throw OrchestratorError.lockTimeout(holder: current?.description ?? "unknown holder")
            }
            if !told {
                onWait(current)
                told = true
            }
            clock.sleep(0.05)
        }
    }

    /// Breaks the lock whoever holds it (`bgctl unlock`): the next operation locks a new file.
    /// Returns the holder it displaced, if one was recorded.
    public static func breakLock(_ paths: StackPaths) -> Holder? {
        let previous = readHolder(paths)
        unlink(paths.lockFile)
        unlink(paths.lockInfoFile)
        return previous
    }

    /// lock.json is small; anything larger, or not a regular file, is no holder bgctl can name.
    static let maxInfoBytes = 64 << 10

    static func readHolder(_ paths: StackPaths) -> Holder? {
        guard let bytes = BoundedRead.contents(of: paths.lockInfoFile, limit: maxInfoBytes) else { return nil }
        return try? JSONDecoder().decode(Holder.self, from: Data(bytes))
    }

    public func release() {
        unlink(infoPath)
        flock(fd, LOCK_UN)
        close(fd)
    }

    /// Who holds the lock now, or nil when nobody does (lock.json left by a killed holder is ignored).
    public static func currentHolder(_ paths: StackPaths) -> Holder? {
        let fd = open(paths.lockFile, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            // Nobody holds it: a lock.json left by a killed holder goes, so no stale file misleads anyone.
            unlink(paths.lockInfoFile)
            flock(fd, LOCK_UN)
            return nil
        }
        guard let bytes = BoundedRead.contents(of: paths.lockInfoFile, limit: maxInfoBytes) else {
            return Holder(pid: 0, who: "unknown", command: "unknown", since: "")
        }
        return try? JSONDecoder().decode(Holder.self, from: Data(bytes))
    }
}
