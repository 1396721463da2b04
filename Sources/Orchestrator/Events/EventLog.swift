import Foundation
import Support
import Watcher

/// `events.jsonl` in the folder the events container shares with the watcher: one line per event,
/// each written with one `write(2)` to a file opened `O_APPEND`, so the tailer never sees half a line
/// from a writer that is alive. Past `maxSize` the file is renamed to `events.jsonl.1` (the one
/// before it is overwritten) and a new one begun: the tailer finishes a renamed file first.
public final class EventLog {
    public static let fileName = "events.jsonl"
    public static let maxSize = 1 << 20

    public let path: String
    public let maxSize: Int
    private var fd: Int32 = -1
    private var size = 0

    public init(folder: String, maxSize: Int = EventLog.maxSize) {
        self.path = (folder as NSString).appendingPathComponent(Self.fileName)
        self.maxSize = maxSize
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Appends the event's line; an event that is not `isValid` is not written (false).
    @discardableResult
    public func append(_ event: ContainerEvent) throws -> Bool {
        guard let line = event.line else { return false }
        let bytes = Array((line + "\n").utf8)
        if fd < 0 { try open() }
        if size > 0 && size + bytes.count > maxSize { try rotate() }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            let reason = String(cString: strerror(errno))
            // Reopened at the next event: the file may have been removed or replaced meanwhile.
            close(fd)
            fd = -1
            throw WriteError(path: path, reason: written < 0 ? reason : "short write")
        }
        size += bytes.count
        return true
    }

    private func open() throws {
        // Never through a link planted at the file's name.
        let opened = Foundation.open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard opened >= 0 else { throw WriteError(path: path, reason: String(cString: strerror(errno))) }
        var st = stat()
        guard fstat(opened, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(opened)
            throw WriteError(path: path, reason: "not a regular file")
        }
        fd = opened
        size = Int(st.st_size)
    }

    private func rotate() throws {
        close(fd)
        fd = -1
        guard rename(path, path + ".1") == 0 else { throw WriteError(path: path, reason: "cannot rename it to \(Self.fileName).1: \(String(cString: strerror(errno)))") }
        try open()
    }
}
