import Foundation

public struct WriteError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String

    public var description: String { "cannot write \(path): \(reason)" }
}

/// Writes files by temp file + fsync + rename in the same folder, so a reader (nginx) sees the old
/// contents or the new, never a truncated file.
public enum AtomicWriter {
    public static func write(_ contents: String, to path: String, mode: mode_t = 0o644) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let dir = directory.isEmpty ? "." : directory
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let temp = (dir as NSString).appendingPathComponent(".\((path as NSString).lastPathComponent).tmp-\(getpid())")
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw WriteError(path: path, reason: String(cString: strerror(errno))) }
        var ok = true
        var failure = ""
        let bytes = Array(contents.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                ok = false
                failure = String(cString: strerror(errno))
                break
            }
            offset += n
        }
        if ok && fsync(fd) != 0 {
            ok = false
            failure = String(cString: strerror(errno))
        }
        fchmod(fd, mode)
        close(fd)
        guard ok else {
            unlink(temp)
            throw WriteError(path: path, reason: failure)
        }
        guard rename(temp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temp)
            throw WriteError(path: path, reason: reason)
        }
    }

    /// Writes every file of a rendered configuration into `directory`, the main file last so that a
    /// reload never sees a main file that includes a site file not yet written.
    public static func write(_ config: RenderedConfig, into directory: String) throws {
        for name in RenderedConfig.writeOrder {
            guard let contents = config.files[name] else { continue }
            try write(contents, to: (directory as NSString).appendingPathComponent(name))
        }
    }
}
