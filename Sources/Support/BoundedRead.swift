import Foundation

/// Reads small files whose size the reader does not control (state written by another process).
///
/// The file is opened `O_NONBLOCK` (a FIFO planted at the path does not block the open) and checked
/// with `fstat` on the opened descriptor before any byte is read: only a regular file of at most
/// `limit` bytes is read, and never more than `limit + 1` bytes, whatever its size claims.
public enum BoundedRead {
    public enum Outcome: Sendable, Equatable {
        case bytes([UInt8])
        /// No such file, or it cannot be opened (permission).
        case missing
        /// A FIFO, a device, a folder, a socket: reading it could block or never end.
        case notRegular
        /// Larger than the limit; the size found (a sparse file claims what it likes).
        case tooLarge(Int64)
        case failed(String)
    }

    /// The whole contents of the regular file at `path`, or nil when it is missing, unreadable, not a
    /// regular file, or larger than `limit` bytes — never a partial read and never an unbounded one.
    public static func contents(of path: String, limit: Int) -> [UInt8]? {
        if case .bytes(let bytes) = read(path, limit: limit) { return bytes }
        return nil
    }

    /// What reading at most `limit` bytes of `path` found.
    public static func read(_ path: String, limit: Int) -> Outcome {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return errno == ENOENT || errno == EACCES || errno == ENOTDIR ? .missing : .failed(lastError()) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failed(lastError()) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return .notRegular }
        guard Int64(st.st_size) <= Int64(limit) else { return .tooLarge(Int64(st.st_size)) }
        // Read up to limit + 1: a file that grew since fstat is caught, not truncated. The buffer starts
        // at the size fstat gave (a limit of MiBs must not cost MiBs for a file of a few hundred bytes)
        // and grows only for a file that grew.
        var buffer = [UInt8](repeating: 0, count: min(Int(st.st_size), limit) + 1)
        var count = 0
        while true {
            if count == buffer.count {
                guard buffer.count < limit + 1 else { break }
                buffer += [UInt8](repeating: 0, count: min(buffer.count, limit + 1 - buffer.count))
            }
            let n = buffer[count...].withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return .failed(lastError()) }
            if n == 0 { break }
            count += n
        }
        guard count <= limit else { return .tooLarge(Int64(count)) }
        return .bytes(Array(buffer[..<count]))
    }

    /// The last `limit` bytes at most of the regular file at `path`, starting after a newline when the
    /// file is longer (so no partial first line): for append-only logs that keep growing.
    public static func tail(of path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        // One byte before the part kept tells whether that part starts a line.
        let keptFrom = Int64(st.st_size) - Int64(limit)
        let start = max(0, keptFrom - 1)
        guard lseek(fd, off_t(start), SEEK_SET) == off_t(start) else { return nil }
        var buffer = [UInt8](repeating: 0, count: Int(min(Int64(limit) + 1, Int64(st.st_size) - start + 1)))
        var count = 0
        while count < buffer.count {
            let n = buffer[count...].withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            count += n
        }
        var bytes = buffer[..<count]
        if keptFrom > 0 { bytes = bytes.firstIndex(of: 0x0A).map { bytes[($0 + 1)...] } ?? [] }
        return Array(bytes)
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
