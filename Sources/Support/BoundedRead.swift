import Foundation

/// Reads small files whose size the reader does not control (state written by another process).
public enum BoundedRead {
    /// The whole contents of the regular file at `path`, or nil when it is missing, unreadable, not a
    /// regular file, or larger than `limit` bytes — never a partial read and never an unbounded one.
    public static func contents(of path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, Int(st.st_size) <= limit else { return nil }
        // Read up to limit + 1: a file that grew since fstat is caught, not truncated.
        var buffer = [UInt8](repeating: 0, count: limit + 1)
        var count = 0
        while count < buffer.count {
            let n = buffer[count...].withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return nil }
            if n == 0 { break }
            count += n
        }
        guard count <= limit else { return nil }
        return Array(buffer[..<count])
    }
}
