import Foundation

/// Opens the files bgctl creates or appends without following a link somebody else planted.
///
/// A file is always opened relative to its folder's descriptor (`openat`), with `O_NOFOLLOW`: a
/// symbolic link at the file's own name is refused, never followed. The folder is opened first and
/// checked on that descriptor: one that another user owns, or that anyone may write without the
/// sticky bit, is refused. The folder's own path may go through links: those belong to whoever set
/// the path up (an operator's `state_dir` on another disk).
public enum SafeOpen {
    /// Why others than this user and root could change what the folder holds; nil when they cannot.
    /// `strict` also refuses group or world write with the sticky bit (a state folder is nobody
    /// else's, and a shared /tmp is not one).
    public static func othersCanWrite(_ st: stat, strict: Bool = false) -> String? {
        let owner = st.st_uid
        if owner != geteuid() && owner != 0 {
            return "it is owned by uid \(owner), not by this user (uid \(geteuid())) or root"
        }
        let sticky = st.st_mode & S_ISVTX != 0
        if st.st_mode & S_IWOTH != 0 && (strict || !sticky) { return "anyone may write it (mode \(octal(st.st_mode)))" }
        if strict && st.st_mode & S_IWGRP != 0 { return "its group may write it (mode \(octal(st.st_mode)))" }
        return nil
    }

    /// The folder at `path`, opened and checked as described above; the caller closes it. A
    /// `WriteError` names `file` when given (the file that could not be written), else the folder.
    public static func folder(_ path: String, strict: Bool = false, for file: String? = nil) throws -> Int32 {
        let named = file ?? path
        let fd = open(path.isEmpty ? "." : path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw WriteError(path: named, reason: "cannot open the folder \(path): \(lastError())") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let reason = lastError()
            close(fd)
            throw WriteError(path: named, reason: "cannot inspect the folder \(path): \(reason)")
        }
        if let reason = othersCanWrite(st, strict: strict) {
            close(fd)
            throw WriteError(path: named, reason: "refusing the folder \(path), which others can write: \(reason); make it yours and not writable by others (chown, chmod go-w)")
        }
        return fd
    }

    /// Opens `path` with `flags` (`O_NOFOLLOW` and `O_CLOEXEC` are added) inside its checked folder.
    /// The caller closes the descriptor.
    public static func file(_ path: String, flags: Int32, mode: mode_t = 0o600) throws -> Int32 {
        let (folderPath, name) = split(path)
        let dir = try folder(folderPath, for: path)
        defer { close(dir) }
        return try file(in: dir, name: name, path: path, flags: flags, mode: mode)
    }

    /// Opens `name` inside the folder `dir`, never following a link there.
    public static func file(in dir: Int32, name: String, path: String, flags: Int32, mode: mode_t = 0o600) throws -> Int32 {
        let fd = openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else {
            if errno == ELOOP { throw WriteError(path: path, reason: "it is a symbolic link; bgctl does not follow links here (remove it)") }
            throw WriteError(path: path, reason: lastError())
        }
        return fd
    }

    /// The folder and the file name of `path`; a name that is empty, "." or ".." is refused.
    public static func split(_ path: String) -> (folder: String, name: String) {
        let folder = (path as NSString).deletingLastPathComponent
        return (folder.isEmpty ? "." : folder, (path as NSString).lastPathComponent)
    }

    private static func octal(_ mode: mode_t) -> String { String(mode & 0o7777, radix: 8) }
    private static func lastError() -> String { String(cString: strerror(errno)) }
}
