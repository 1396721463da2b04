import Foundation

/// Replaces a file in one step: a reader sees the old contents or the new, never a part, and a crash
/// leaves one of the two on disk.
///
/// The target's folder is opened and checked once (`SafeOpen.folder`: refused when others can write
/// it); everything after is relative to that descriptor, so a folder swapped for a link meanwhile is
/// not followed. The temp file gets a random name there and is opened `O_CREAT|O_EXCL|O_NOFOLLOW`,
/// so no symlink planted at a guessable name is ever followed. Then: write all, `fchmod(mode)`, `fsync`,
/// `renameat` over the target (a link there is replaced, not followed), `fsync` the folder. The target's folder must exist: a missing one is a
/// `WriteError`, not created. On any failure the temp file is removed and `WriteError` thrown.
public enum AtomicFile {
    public static func write(_ string: String, to path: String, mode: mode_t = 0o644) throws {
        try write(Array(string.utf8), to: path, mode: mode)
    }

    public static func write(_ data: Data, to path: String, mode: mode_t = 0o644) throws {
        try write(Array(data), to: path, mode: mode)
    }

    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws {
        let (folder, name) = SafeOpen.split(path)
        guard !name.isEmpty, name != ".", name != ".." else { throw WriteError(path: path, reason: "not a file name") }
        let dir = try SafeOpen.folder(folder, for: path)
        defer { close(dir) }
        let (fd, temp) = try createTemp(in: dir, folder: folder, for: name, path: path)
        var failure: String?
        if let reason = writeAll(fd, bytes) {
            failure = reason
        } else if fchmod(fd, mode) != 0 || fsync(fd) != 0 {
            failure = lastError()
        }
        // close can report a deferred write error (NFS); it counts as a failure too.
        if close(fd) != 0 && failure == nil { failure = lastError() }
        if failure == nil && renameat(dir, temp, dir, name) != 0 { failure = lastError() }
        if let failure {
            unlinkat(dir, temp, 0)
            throw WriteError(path: path, reason: failure)
        }
        // Makes the rename itself durable. Best effort: the new contents are already in place and some
        // file systems refuse to fsync a folder, which must not turn a done write into a failure.
        _ = fsync(dir)
    }

    /// A new file at a random name next to the target, in the folder `dir`. `O_EXCL|O_NOFOLLOW` makes
    /// the open fail on anything already there, a symlink included; `O_CLOEXEC` keeps it out of
    /// spawned docker processes.
    private static func createTemp(in dir: Int32, folder: String, for name: String, path: String) throws -> (Int32, String) {
        for _ in 0..<64 {
            let temp = ".\(name).\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
            let fd = openat(dir, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd >= 0 { return (fd, temp) }
            if errno != EEXIST { break }
        }
        throw WriteError(path: path, reason: "cannot create a temp file in \(folder): \(lastError())")
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

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
