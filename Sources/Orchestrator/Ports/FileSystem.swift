import Foundation
import NginxConfigGen
import Support
import Watcher

/// The files an operation reads and writes. The real one is the host's; every write is atomic. It
/// offers what a log rotation needs (`RotationFiles`: size, lock), so bgctl rotates through this port.
public protocol FileSystem: RotationFiles, Sendable {
    /// Nil when the file does not exist or cannot be read.
    func read(_ path: String) -> Data?
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
}

/// A file the port could not write, move, remove or create: the same value as the atomic writer's.
public typealias FileError = WriteError

public struct LocalFileSystem: FileSystem {
    public init() {}

    public func read(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

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
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let written = data.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == data.count else { throw FileError(path: path, reason: "short write") }
    }
}
