import Foundation

/// Where a tailer is in its file, kept so a restarted watcher resumes instead of skipping lines.
public struct TailPosition: Codable, Sendable, Equatable {
    public var device: UInt64
    public var inode: UInt64
    public var offset: Int64
}

/// Follows a log file like `tail -F`, line by line: across rename rotation (the old file is finished
/// first), copytruncate, deletion and recreation, and a file that does not exist yet. Partial lines
/// wait for their newline; a line longer than `maxLine` is skipped and counted. Wakes on inotify
/// events for the file's folder, with polling as the fallback. `path == "-"` reads standard input.
public final class Tailer {
    public struct Counters: Sendable, Equatable {
        public var rotations = 0
        public var truncations = 0
        public var tooLong = 0
    }

    public let path: String
    public let maxLine: Int
    public private(set) var counters = Counters()
    /// True once standard input has ended (never for a file: files are followed).
    public private(set) var finished = false

    private var fd: Int32 = -1
    /// Files rotated away, still read for a grace period: writers reopen a moment after the rename.
    private var retired: [(fd: Int32, until: Double)] = []
    public var retiredGrace: Double = 2
    private var device: UInt64 = 0
    private var inode: UInt64 = 0
    private var offset: Int64 = 0
    private var pending: [UInt8] = []
    private var skipping = false
    private var buffer: [UInt8]
    private var inotify: Int32 = -1
    private let startAtEnd: Bool
    private var firstOpen = true
    private var resume: TailPosition?
    private let isStdin: Bool

    public init(path: String, fromStart: Bool, resume: TailPosition? = nil, maxLine: Int = 65_536, bufferSize: Int = 1 << 18) {
        self.path = path
        self.maxLine = maxLine
        self.buffer = [UInt8](repeating: 0, count: bufferSize)
        self.startAtEnd = !fromStart
        self.resume = fromStart ? nil : resume
        self.isStdin = path == "-"
        if isStdin {
            fd = STDIN_FILENO
        } else {
            let directory = (path as NSString).deletingLastPathComponent
            inotify = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            if inotify >= 0 {
                let mask = UInt32(IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE | IN_ATTRIB)
                if inotify_add_watch(inotify, directory.isEmpty ? "." : directory, mask) < 0 {
                    close(inotify)
                    inotify = -1
                }
            }
            openFile()
        }
    }

    deinit {
        if fd >= 0 && !isStdin { close(fd) }
        for entry in retired { close(entry.fd) }
        if inotify >= 0 { close(inotify) }
    }

    /// True when inotify drives the waits (else the tailer polls).
    public var usesInotify: Bool { inotify >= 0 }

    public var position: TailPosition? {
        fd >= 0 && !isStdin ? TailPosition(device: device, inode: inode, offset: offset) : nil
    }

    /// Reads everything available now, calling `onLine` for each complete line (without its newline).
    /// Returns the number of lines delivered.
    @discardableResult
    public func readAvailable(_ onLine: (UnsafeRawBufferPointer) -> Void) -> Int {
        var lines = 0
        lines += drainRetired(onLine)
        if fd < 0 { openFile() }
        guard fd >= 0 else { return 0 }
        lines += drain(onLine)
        if isStdin { return lines }
        // At the end of what this descriptor has: has the path moved on to another file, or shrunk?
        var st = stat()
        if stat(path, &st) == 0 {
            if UInt64(st.st_ino) != inode || UInt64(st.st_dev) != device {
                lines += drain(onLine)
                flushPartialAtRotation(onLine)
                retired.append((fd, Self.now() + retiredGrace))
                fd = -1
                counters.rotations += 1
                lines += readSkipped(device: device, inode: inode, onLine)
                openFile()
                if fd >= 0 { lines += drain(onLine) }
            } else if Int64(st.st_size) < offset {
                counters.truncations += 1
                pending.removeAll()
                skipping = false
                lseek(fd, 0, SEEK_SET)
                offset = 0
                lines += drain(onLine)
            }
        }
        return lines
    }

    /// Waits up to `timeout` seconds for the file to change (inotify, or a plain sleep when polling).
    public func wait(timeout: Double) {
        if isStdin {
            var p = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, Int32(timeout * 1000))
            return
        }
        guard inotify >= 0 else {
            usleep(useconds_t(min(timeout, 0.25) * 1_000_000))
            return
        }
        var p = pollfd(fd: inotify, events: Int16(POLLIN), revents: 0)
        if poll(&p, 1, Int32(timeout * 1000)) > 0 {
            var events = [UInt8](repeating: 0, count: 4096)
            while read(inotify, &events, events.count) > 0 {}
        }
    }

    /// Reads what late writers added to rotated-away files; closes them once their grace period ends.
    private func drainRetired(_ onLine: (UnsafeRawBufferPointer) -> Void) -> Int {
        guard !retired.isEmpty else { return 0 }
        var lines = 0
        let now = Self.now()
        var keep: [(fd: Int32, until: Double)] = []
        for entry in retired {
            let current = (fd, offset, pending, skipping)
            (fd, pending, skipping) = (entry.fd, [], false)
            lines += drain(onLine)
            flushPartialAtRotation(onLine)
            (fd, offset, pending, skipping) = current
            if now < entry.until { keep.append(entry) } else { close(entry.fd) }
        }
        retired = keep
        return lines
    }

    /// Rotated files looked for between the one the tailer had open and the new file.
    static let maxSkipped = 8

    /// With rename rotation (`path` → `path.1` → `path.2` …), two rotations between two reads leave a
    /// file the tailer never opened: walking `path.1`, `path.2` … up to the file it had open finds them.
    /// They are read from their start, oldest first, and kept for the grace period like any rotated
    /// file. When the old file is not among the first `maxSkipped`, nothing is read: which of them were
    /// already read cannot be told.
    private func readSkipped(device: UInt64, inode: UInt64, _ onLine: (UnsafeRawBufferPointer) -> Void) -> Int {
        var found: [Int32] = []
        defer { for fd in found { close(fd) } }
        for number in 1...Self.maxSkipped {
            let candidate = open("\(path).\(number)", O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            guard candidate >= 0 else { return 0 }
            var st = stat()
            guard fstat(candidate, &st) == 0 else {
                close(candidate)
                return 0
            }
            if UInt64(st.st_ino) == inode && UInt64(st.st_dev) == device {
                close(candidate)
                break
            }
            found.append(candidate)
            if number == Self.maxSkipped { return 0 }
        }
        var lines = 0
        let current = (fd, offset, pending, skipping)
        for skipped in found.reversed() {
            (fd, pending, skipping) = (skipped, [], false)
            lines += drain(onLine)
            flushPartialAtRotation(onLine)
            retired.append((skipped, Self.now() + retiredGrace))
            counters.rotations += 1
        }
        (fd, offset, pending, skipping) = current
        found = []
        return lines
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Opens the path. Only the file found when the tailer starts may be read from its end (or from a
    /// saved position): a file that appears later is new and is read from its start.
    private func openFile() {
        let atStartup = firstOpen
        firstOpen = false
        let opened = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard opened >= 0 else {
            resume = nil
            return
        }
        var st = stat()
        guard fstat(opened, &st) == 0 else {
            close(opened)
            return
        }
        fd = opened
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        offset = 0
        if let resume, resume.inode == inode, resume.device == device, resume.offset <= Int64(st.st_size) {
            offset = resume.offset
        } else if startAtEnd && atStartup {
            offset = Int64(st.st_size)
        }
        resume = nil
        lseek(fd, off_t(offset), SEEK_SET)
    }

    /// Reads to the current end of the descriptor, delivering complete lines.
    private func drain(_ onLine: (UnsafeRawBufferPointer) -> Void) -> Int {
        var lines = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                if n == 0 && isStdin {
                    flushPartialAtRotation(onLine)
                    finished = true
                }
                break
            }
            offset += Int64(n)
            lines += split(count: n, onLine)
        }
        return lines
    }

    private func split(count: Int, _ onLine: (UnsafeRawBufferPointer) -> Void) -> Int {
        var lines = 0
        buffer.withUnsafeBytes { raw in
            let base = raw.baseAddress!
            var start = 0
            while start < count {
                guard let nl = memchr(base + start, 0x0A, count - start) else {
                    appendPending(UnsafeRawBufferPointer(start: base + start, count: count - start))
                    break
                }
                let end = UnsafeRawPointer(nl) - base
                let piece = UnsafeRawBufferPointer(start: base + start, count: end - start)
                if skipping {
                    skipping = false
                    pending.removeAll(keepingCapacity: true)
                } else if pending.isEmpty {
                    if piece.count > maxLine { counters.tooLong += 1 } else {
                        onLine(piece)
                        lines += 1
                    }
                } else {
                    appendPending(piece)
                    if skipping {
                        skipping = false
                    } else {
                        pending.withUnsafeBytes { onLine($0) }
                        lines += 1
                    }
                    pending.removeAll(keepingCapacity: true)
                }
                start = end + 1
            }
        }
        return lines
    }

    private func appendPending(_ bytes: UnsafeRawBufferPointer) {
        guard !skipping else { return }
        if pending.count + bytes.count > maxLine {
            counters.tooLong += 1
            skipping = true
            pending.removeAll(keepingCapacity: true)
            return
        }
        pending.append(contentsOf: bytes)
    }

    /// A file that ends without a newline at rotation still ends its last line.
    private func flushPartialAtRotation(_ onLine: (UnsafeRawBufferPointer) -> Void) {
        if !pending.isEmpty && !skipping {
            pending.withUnsafeBytes { onLine($0) }
        }
        pending.removeAll()
        skipping = false
    }
}
