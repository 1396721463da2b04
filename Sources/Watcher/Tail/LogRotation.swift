import Foundation
import Support

/// The file operations a rotation needs. The host's are `LocalRotationFiles`; Orchestrator's
/// `FileSystem` port provides the same, so bgctl commands and the watcher rotate one way.
public protocol RotationFiles {
    /// Nil when the file does not exist.
    func size(of path: String) -> Int64?
    /// The names in a folder; nil when it cannot be listed.
    func list(_ path: String) -> [String]?
    /// rename(2): atomic, replaces the destination.
    func rename(_ source: String, to destination: String) throws
    /// A missing path is not an error.
    func remove(_ path: String) throws
    /// Runs `body` holding an exclusive lock on `path` (created when missing); false without running
    /// it when someone else holds the lock.
    func withExclusiveLock(_ path: String, _ body: () throws -> Void) throws -> Bool
}

/// Rename rotation of one log, as nginx wants it (rename, then USR1): past `maxSize`, `access.log.(n)`
/// moves to `access.log.(n+1)` from the oldest down, then `access.log` to `access.log.1`; the caller
/// then makes the writer reopen. Never copytruncate: nginx goes on writing into the renamed file until
/// it reopens, and the tailer reads the rest of a renamed file before it moves on, so no line is lost
/// or read twice.
public enum LogRotation {
    public struct Policy: Sendable, Equatable {
        public var maxSize: Int64
        /// Rotated files kept: `.1` (newest) … `.keep`.
        public var keep: Int

        public init(maxSize: Int64, keep: Int) {
            self.maxSize = maxSize
            self.keep = keep
        }
    }

    public enum Action: Sendable, Equatable {
        case remove(String)
        case rename(from: String, to: String)
    }

    public struct Decision: Sendable, Equatable {
        public var actions: [Action] = []
        /// The writer must reopen the log: it was just renamed, or an earlier rotation renamed it and
        /// stopped before the writer was told (the log is missing while `.1` exists).
        public var reopen = false
        public var rotates: Bool { actions.contains { if case .rename = $0 { return true }; return false } }
    }

    /// Files past `keep` (left by a larger `keep`) removed per call, so one call stays short.
    public static let maxRemovalsPerCall = 64

    /// Decides what to do with the log at `path` of `size` bytes (nil: missing) when `.n` exists for each
    /// n in `rotated`. Pure. The shift stops at the first missing `.n`: a rotation killed halfway left
    /// exactly such a gap, so the next call finishes it instead of overwriting a file twice. At most
    /// `keep` renames and `maxRemovalsPerCall` removals.
    public static func decide(path: String, size: Int64?, rotated: Set<Int>, policy: Policy) -> Decision {
        var decision = Decision()
        let keep = max(1, policy.keep)
        for number in rotated.filter({ $0 > keep }).sorted(by: >).prefix(maxRemovalsPerCall) {
            decision.actions.append(.remove("\(path).\(number)"))
        }
        guard let size else {
            decision.reopen = rotated.contains(1)
            return decision
        }
        guard size > policy.maxSize else { return decision }
        let gap = (1...keep).first { !rotated.contains($0) } ?? keep
        for number in stride(from: gap - 1, through: 1, by: -1) {
            decision.actions.append(.rename(from: "\(path).\(number)", to: "\(path).\(number + 1)"))
        }
        decision.actions.append(.rename(from: path, to: "\(path).1"))
        decision.reopen = true
        return decision
    }

    /// The numbers n of the `<base>.n` files among a folder's names (n ≥ 1, written without leading zeros).
    public static func rotatedNumbers(in names: [String], base: String) -> Set<Int> {
        let prefix = base + "."
        var numbers: Set<Int> = []
        for name in names where name.hasPrefix(prefix) {
            let digits = name.dropFirst(prefix.count)
            guard !digits.isEmpty, digits.count <= 9, digits.first != "0",
                  digits.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(digits) else { continue }
            numbers.insert(number)
        }
        return numbers
    }

    /// What one call did.
    public struct Outcome: Sendable, Equatable {
        public var rotated = false
        public var removed = 0
        /// The caller must now make the writer reopen the log (USR1 to nginx).
        public var reopen = false
        /// Another process held the rotation lock; nothing was done.
        public var busy = false
    }

    /// The lock beside the log that keeps two rotators (the watcher, a bgctl command) from shifting
    /// the same files at once.
    public static func lockPath(for path: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        return (folder.isEmpty ? "." : folder) + "/.\(name).rotate-lock"
    }

    /// Decides under the lock (sizes and names read while holding it) and carries the decision out. A
    /// failed rename is thrown after the renames before it, each atomic: the next call completes the
    /// shift. The caller signals the writer when `reopen` is set.
    public static func rotate(_ path: String, policy: Policy, files: RotationFiles) throws -> Outcome {
        var outcome = Outcome()
        let folder = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let locked = try files.withExclusiveLock(lockPath(for: path)) {
            let rotated = rotatedNumbers(in: files.list(folder.isEmpty ? "." : folder) ?? [], base: base)
            let decision = decide(path: path, size: files.size(of: path), rotated: rotated, policy: policy)
            for action in decision.actions {
                switch action {
                case .remove(let victim):
                    try files.remove(victim)
                    outcome.removed += 1
                case .rename(let from, let to):
                    try files.rename(from, to: to)
                }
            }
            outcome.rotated = decision.rotates
            outcome.reopen = decision.reopen
        }
        outcome.busy = !locked
        return outcome
    }
}

/// The host's files, through POSIX calls; the lock is flock(2) on a file beside the log, which also
/// holds between a container and the host when both see the folder through a bind mount.
public struct LocalRotationFiles: RotationFiles {
    public init() {}

    public func size(of path: String) -> Int64? {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : nil
    }

    public func list(_ path: String) -> [String]? { try? FileManager.default.contentsOfDirectory(atPath: path) }

    public func rename(_ source: String, to destination: String) throws {
        guard Foundation.rename(source, destination) == 0 else {
            throw RotationError(path: source, reason: "rename to \(destination): \(String(cString: strerror(errno)))")
        }
    }

    public func remove(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else {
            throw RotationError(path: path, reason: "remove: \(String(cString: strerror(errno)))")
        }
    }

    public func withExclusiveLock(_ path: String, _ body: () throws -> Void) throws -> Bool {
        try Self.exclusiveLock(path, body)
    }

    /// flock(LOCK_EX | LOCK_NB) on `path`; released when the descriptor closes, also when the process dies.
    /// The lock file sits in a folder the proxy container writes: it is opened with `SafeOpen`, so a
    /// link planted at its name is refused rather than followed (root would create its target).
    public static func exclusiveLock(_ path: String, _ body: () throws -> Void) throws -> Bool {
        let fd: Int32
        do {
            fd = try SafeOpen.file(path, flags: O_RDWR | O_CREAT, mode: 0o600)
        } catch let error as WriteError {
            throw RotationError(path: path, reason: "open the lock: \(error.reason)")
        }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            if errno == EWOULDBLOCK { return false }
            throw RotationError(path: path, reason: "lock: \(String(cString: strerror(errno)))")
        }
        try body()
        return true
    }
}

public struct RotationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String

    public var description: String { "cannot rotate \(path): \(reason)" }
}
