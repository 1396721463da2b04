import Foundation
import NginxConfigGen
import Support
import Watcher

/// The files an operation reads and writes. The real one is the host's; every write is atomic. It
/// offers what a log rotation needs (`RotationFiles`: size, lock), so bgctl rotates through this port.
public protocol FileSystem: RotationFiles, Sendable {
    /// Nil when the file does not exist, cannot be read, is not a regular file or is larger than
    /// `FileLimits.anyFile`: others may write these files, so no read is unbounded.
    func read(_ path: String) -> Data?
    /// At most `limit` bytes: nil when the file does not exist; a file that is larger, or is not a
    /// regular file (a FIFO would block), is a thrown `FileError`, so it cannot pass for a missing one.
    func read(_ path: String, limit: Int) throws -> Data?
    func exists(_ path: String) -> Bool
    /// Temp file + fsync + rename: a reader sees the old contents or the new, never a mix.
    func write(_ contents: String, to path: String, mode: mode_t) throws
    func rename(_ source: String, to destination: String) throws
    /// Removes a file or a folder with its contents; a missing path is not an error.
    func remove(_ path: String) throws
    func createDirectory(_ path: String) throws
    func list(_ path: String) -> [String]?
    /// Appends one record with a single write(2) under O_APPEND, so concurrent writers never interleave.
    func append(_ data: Data, to path: String) throws
    /// Creates empty files in an existing folder (never through a link, never over an existing file),
    /// then syncs the folder once: what a route folder needs, many names and no contents.
    func createEmptyFiles(_ names: [String], in folder: String) throws
    /// Points the symbolic link `path` at `target` (a name in the same folder): a temp link renamed
    /// over it, then the folder synced. A reader sees the old target or the new, never neither.
    func replaceLink(_ path: String, target: String) throws
    /// The target of a symbolic link; nil when `path` is not one.
    func readLink(_ path: String) -> String?
}

/// A file the port could not write, move, remove or create: the same value as the atomic writer's.
public typealias FileError = WriteError

/// How much bgctl reads of the files in a state folder at most.
public enum FileLimits {
    /// Any file read through the port without a limit of its own.
    public static let anyFile = 16 << 20
    /// state.json, journal.json, tested.json, lock.json, watcher/status.json: a few KiB each.
    public static let stateFile = 1 << 20
    /// history.jsonl keeps growing: its last this many bytes are read.
    public static let historyTail = 8 << 20
}

public struct LocalFileSystem: FileSystem {
    public init() {}

    public func read(_ path: String) -> Data? { BoundedRead.contents(of: path, limit: FileLimits.anyFile).map { Data($0) } }

    public func read(_ path: String, limit: Int) throws -> Data? {
        switch BoundedRead.read(path, limit: limit) {
        case .bytes(let bytes): return Data(bytes)
        case .missing: return nil
        case .notRegular: throw FileError(path: path, reason: "not a regular file; refusing to read it")
        case .tooLarge(let size): throw FileError(path: path, reason: "it is \(size) bytes; bgctl reads at most \(limit)")
        case .failed(let reason): throw FileError(path: path, reason: reason)
        }
    }

    public func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    public func write(_ contents: String, to path: String, mode: mode_t) throws {
        try AtomicWriter.write(contents, to: path, mode: mode)
    }

    public func rename(_ source: String, to destination: String) throws {
        guard Foundation.rename(source, destination) == 0 else {
            throw FileError(path: destination, reason: "rename from \(source): \(String(cString: strerror(errno)))")
        }
    }

    public func remove(_ path: String) throws {
        guard exists(path) else { return }
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw FileError(path: path, reason: "cannot remove it: \((error as NSError).localizedDescription)")
        }
    }

    public func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw FileError(path: path, reason: "cannot create the folder: \((error as NSError).localizedDescription)")
        }
    }

    public func list(_ path: String) -> [String]? { try? FileManager.default.contentsOfDirectory(atPath: path) }

    public func size(of path: String) -> Int64? { LocalRotationFiles().size(of: path) }

    public func withExclusiveLock(_ path: String, _ body: () throws -> Void) throws -> Bool {
        try LocalRotationFiles.exclusiveLock(path, body)
    }

    public func append(_ data: Data, to path: String) throws {
        let fd = try SafeOpen.file(path, flags: O_WRONLY | O_APPEND | O_CREAT, mode: 0o644)
        defer { close(fd) }
        let written = data.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == data.count else { throw FileError(path: path, reason: "short write") }
    }

    public func createEmptyFiles(_ names: [String], in folder: String) throws {
        for name in names {
            let path = (folder as NSString).appendingPathComponent(name)
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw FileError(path: path, reason: String(cString: strerror(errno))) }
            close(fd)
        }
        try Self.syncFolder(folder)
    }

    public func replaceLink(_ path: String, target: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        let temp = path + ".new"
        unlink(temp)
        guard symlink(target, temp) == 0 else { throw FileError(path: temp, reason: "symlink: \(String(cString: strerror(errno)))") }
        guard Foundation.rename(temp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temp)
            throw FileError(path: path, reason: "rename from \(temp): \(reason)")
        }
        try Self.syncFolder(folder)
    }

    public func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// fsync of a folder: its entries (a rename, new files) survive a power loss.
    static func syncFolder(_ folder: String) throws {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path: folder, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileError(path: folder, reason: "fsync: \(String(cString: strerror(errno)))") }
    }
}
