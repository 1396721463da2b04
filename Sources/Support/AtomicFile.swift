import Foundation

/// Replaces a file in one step: a reader sees the old contents or the new, never a part, and a crash
/// leaves one of the two on disk.
///
/// The temp file gets a random name in the target's folder and is opened `O_CREAT|O_EXCL|O_NOFOLLOW`,
/// so no symlink planted at a guessable name is ever followed. Then: write all, `fchmod(mode)`, `fsync`,
/// `rename` over the target, `fsync` the folder. The target's folder must exist: a missing one is a
/// `WriteError`, not created. On any failure the temp file is removed and `WriteError` thrown.
public enum AtomicFile {
    public static func write(_ string: String, to path: String, mode: mode_t = 0o644) throws {
        try write(Array(string.utf8), to: path, mode: mode)
    }

    public static func write(_ data: Data, to path: String, mode: mode_t = 0o644) throws {
        try write(Array(data), to: path, mode: mode)
    }

    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws {
        let folder = directory(of: path)
        let name = (path as NSString).lastPathComponent
        guard !name.isEmpty, name != ".", name != ".." else { throw WriteError(path: path, reason: "not a file name") }
        let (fd, temp) = try createTemp(in: folder, for: name, path: path)
        var failure: String?
        if let reason = writeAll(fd, bytes) {
            failure = reason
        } else if fchmod(fd, mode) != 0 || fsync(fd) != 0 {
            failure = lastError()
        }
        // close can report a deferred write error (NFS); it counts as a failure too.
        if close(fd) != 0 && failure == nil { failure = lastError() }
        if failure == nil && rename(temp, path) != 0 { failure = lastError() }
        if let failure {
            unlink(temp)
            throw WriteError(path: path, reason: failure)
        }
        syncDirectory(folder)
    }

    /// A new file at a random name next to the target. `O_EXCL|O_NOFOLLOW` makes the open fail on
    /// anything already there, a symlink included; `O_CLOEXEC` keeps it out of spawned docker processes.
    private static func createTemp(in folder: String, for name: String, path: String) throws -> (Int32, String) {
        for _ in 0..<64 {
            let temp = "\(folder)/.\(name).\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
            let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd >= 0 { return (fd, temp) }
            if errno != EEXIST { break }
        }
        throw WriteError(path: path, reason: "cannot create a temp file in \(folder): \(lastError())")
    }

    static func directory(of path: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent
        return folder.isEmpty ? "." : folder
    }

    /// nil when every byte was written, else the reason.
    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> String? {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return lastError()
            }
            offset += n
        }
        return nil
    }

    /// Makes the rename itself durable. Best effort: the new contents are already in place and some
    /// file systems refuse to fsync a folder, which must not turn a done write into a failure.
    private static func syncDirectory(_ folder: String) {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
