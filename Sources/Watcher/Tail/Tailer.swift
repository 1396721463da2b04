import Foundation

/// Where a tailer is in its file, kept so a restarted watcher resumes instead of skipping lines.
public struct TailPosition: Codable, Sendable, Equatable {
    public var device: UInt64
    public var inode: UInt64
    public var offset: Int64
}

/// Follows a log file like `tail -F`, line by line: across rename rotation (the old file is finished
/// first), copytruncate, deletion and recreation, and a file that does not exist yet. Partial lines
/// wait for their newline; a line longer than `maxLine` is kept shortened (`LineAssembler`: its long
/// string values cut, its other fields whole) or, if still too long, skipped and counted; memory stays
/// bounded either way.
/// Wakes on inotify events for the file's folder, with polling as the fallback. `path == "-"` reads
/// standard input. Each `readAvailable` reads at most `batchBytes`, so a caller under a flood of input
/// (or a source without end, like /dev/zero) gets control back to check its deadline and stop signal.
public final class Tailer {
    public struct Counters: Sendable, Equatable {
        public var rotations = 0
        public var truncations = 0
        /// Lines over `maxLine` dropped: too long even with their string values shortened.
        public var tooLong = 0
        /// Lines over `maxLine` delivered with their long string values cut.
        public var shortened = 0
    }

    public let path: String
    public let maxLine: Int
    /// Bytes read per `readAvailable` at most (whole buffers; at least one).
    public let batchBytes: Int
    public private(set) var counters = Counters()
    /// True once standard input has ended (never for a file: files are followed).
    public private(set) var finished = false
    /// False when the last `readAvailable` stopped at `batchBytes` with more to read; true when it
    /// read everything there was.
    public private(set) var caughtUp = true

    private var fd: Int32 = -1
    /// Files rotated away, still read for a grace period: writers reopen a moment after the rename.
    private var retired: [Retired] = []
    public var retiredGrace: Double = 2
    private var device: UInt64 = 0
    private var inode: UInt64 = 0
    private var offset: Int64 = 0
    private var assembler: LineAssembler
    private var buffer: [UInt8]
    private var inotify: Int32 = -1
    private let startAtEnd: Bool
    private var firstOpen = true
    private var resume: TailPosition?
    /// Standard input or a descriptor given by the caller: read until it ends, never reopened.
    private let isStream: Bool
    /// The open file is a regular file (not a FIFO or a device such as /dev/zero).
    private var isRegular = true
    /// Set by `drain`: it stopped because the descriptor had nothing more, not because of the budget.
    private var reachedEnd = true

    private struct Retired {
        var fd: Int32
        var until: Double
        var assembler: LineAssembler
    }

    /// Each string value of a line over `maxLine` keeps this many bytes at most.
    public static let keptString = 2048

    public init(path: String, fromStart: Bool, resume: TailPosition? = nil, maxLine: Int = 65_536, bufferSize: Int = 1 << 18,
                batchBytes: Int = 1 << 18) {
        self.path = path
        self.maxLine = maxLine
        self.assembler = LineAssembler(maxLine: maxLine, keptString: min(Self.keptString, max(1, maxLine / 16)))
        self.batchBytes = max(1, batchBytes)
        self.buffer = [UInt8](repeating: 0, count: max(1, bufferSize))
        self.startAtEnd = !fromStart
        self.resume = fromStart ? nil : resume
        self.isStream = path == "-"
        if isStream {
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

    /// Reads a descriptor the caller owns (a pipe, standard input) as a stream: until it ends.
    init(descriptor: Int32, maxLine: Int = 65_536, bufferSize: Int = 1 << 18, batchBytes: Int = 1 << 18) {
        self.path = "-"
        self.maxLine = maxLine
        self.assembler = LineAssembler(maxLine: maxLine, keptString: min(Self.keptString, max(1, maxLine / 16)))
        self.batchBytes = max(1, batchBytes)
        self.buffer = [UInt8](repeating: 0, count: max(1, bufferSize))
        self.startAtEnd = false
        self.isStream = true
        self.fd = descriptor
    }

    deinit {
        if fd >= 0 && !isStream { close(fd) }
        for entry in retired { close(entry.fd) }
        if inotify >= 0 { close(inotify) }
    }

    /// True when inotify drives the waits (else the tailer polls).
    public var usesInotify: Bool { inotify >= 0 }

    public var position: TailPosition? {
        fd >= 0 && !isStream ? TailPosition(device: device, inode: inode, offset: offset) : nil
    }

    /// Reads what is available now, up to `batchBytes`, calling `onLine` for each complete line
    /// (without its newline). Returns the number of lines delivered; `caughtUp` tells whether more
    /// was left. Never blocks, standard input included.
    @discardableResult
    public func readAvailable(_ onLine: (UnsafeRawBufferPointer) -> Void) -> Int {
        var budget = batchBytes
        var lines = drainRetired(onLine, budget: &budget)
        caughtUp = budget > 0
        guard caughtUp else { return lines }
        if fd < 0 { openFile() }
        guard fd >= 0 else { return lines }
        lines += drain(onLine, budget: &budget)
        caughtUp = reachedEnd
        if isStream || !caughtUp { return lines }
        // At the end of what this descriptor has: has the path moved on to another file, or shrunk?
        var st = stat()
        guard stat(path, &st) == 0 else { return lines }
        if UInt64(st.st_ino) != inode || UInt64(st.st_dev) != device {
            lines += drain(onLine, budget: &budget)
            guard reachedEnd else {
                caughtUp = false
                return lines
            }
            retired.append(Retired(fd: fd, until: Self.now() + retiredGrace, assembler: assembler))
            assembler.reset()
            // Rotated more than once since the last read: the files in between are read too, oldest first.
            for skipped in skippedFiles(device: device, inode: inode) {
                retired.append(Retired(fd: skipped, until: Self.now() + retiredGrace,
                                       assembler: LineAssembler(maxLine: assembler.maxLine, keptString: assembler.keptString)))
                counters.rotations += 1
            }
            fd = -1
            counters.rotations += 1
            openFile()
            if fd >= 0 {
                lines += drain(onLine, budget: &budget)
                caughtUp = reachedEnd
            }
        } else if isRegular, Int64(st.st_size) < offset {
            // Only a regular file shrinks: a FIFO or a device (/dev/zero) always has size 0.
            counters.truncations += 1
            assembler.reset()
            lseek(fd, 0, SEEK_SET)
            offset = 0
            lines += drain(onLine, budget: &budget)
            caughtUp = reachedEnd
        }
        return lines
    }

    /// Delivers a last line that has no newline (and is not over the cap), for a reader that will read
    /// no more: `--once` on a file whose writer did not end its last line.
    public func flushPartialLine(_ onLine: (UnsafeRawBufferPointer) -> Void) {
        flushPartialAtRotation(onLine)
    }

    /// Waits up to `timeout` seconds for the file to change (inotify, or a plain sleep when polling).
    /// Any `timeout` is accepted: negative or NaN waits not at all, and a wait is at most a minute.
    public func wait(timeout: Double) {
        let seconds = timeout.isNaN ? 0 : min(max(timeout, 0), 60)
        let milliseconds = Int32(seconds * 1000)
        if isStream {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, milliseconds)
            return
        }
        // A FIFO or a device raises no inotify event when written: wait on the descriptor itself.
        if fd >= 0 && !isRegular {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, milliseconds)
            // A FIFO whose writer has gone reports POLLHUP at once, again and again: sleep instead.
            if ready > 0 && p.revents & Int16(POLLIN) == 0 { usleep(useconds_t(min(seconds, 0.25) * 1_000_000)) }
            return
        }
        guard inotify >= 0 else {
            usleep(useconds_t(min(seconds, 0.25) * 1_000_000))
            return
        }
        var p = pollfd(fd: inotify, events: Int16(POLLIN), revents: 0)
        if poll(&p, 1, milliseconds) > 0 {
            var events = [UInt8](repeating: 0, count: 4096)
            while read(inotify, &events, events.count) > 0 {}
        }
    }

    /// Reads what late writers added to rotated-away files; closes them once their grace period ends
    /// (a last line without a newline is delivered then).
    private func drainRetired(_ onLine: (UnsafeRawBufferPointer) -> Void, budget: inout Int) -> Int {
        guard !retired.isEmpty else { return 0 }
        var lines = 0
        let now = Self.now()
        var keep: [Retired] = []
        let current = (fd, offset, assembler)
        for var entry in retired {
            guard budget > 0 else {
                keep.append(entry)
                continue
            }
            (fd, assembler) = (entry.fd, entry.assembler)
            lines += drain(onLine, budget: &budget)
            if reachedEnd && now >= entry.until {
                flushPartialAtRotation(onLine)
                close(entry.fd)
            } else {
                entry.assembler = assembler
                keep.append(entry)
            }
        }
        (fd, offset, assembler) = current
        retired = keep
        return lines
    }

    /// At most this many rotated files (`path.1` … `path.8`) are looked at for ones a reader skipped.
    static let maxSkipped = 8

    /// Rotated files newer than the one just left (device/inode): `path.1` up to, not including, that
    /// file, oldest first. None when that file is not among `path.1…8` (then nothing can be said).
    private func skippedFiles(device: UInt64, inode: UInt64) -> [Int32] {
        var found: [Int32] = []
        for number in 1...Self.maxSkipped {
            let candidate = open("\(path).\(number)", O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            guard candidate >= 0 else { break }
            var st = stat()
            if fstat(candidate, &st) == 0, UInt64(st.st_ino) == inode && UInt64(st.st_dev) == device {
                close(candidate)
                return found.reversed()
            }
            found.append(candidate)
        }
        for fd in found { close(fd) }
        return []
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
        isRegular = (st.st_mode & S_IFMT) == S_IFREG
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        offset = 0
        if let resume, resume.inode == inode, resume.device == device, resume.offset >= 0, resume.offset <= Int64(st.st_size) {
            offset = resume.offset
        } else if startAtEnd && atStartup {
            offset = Int64(st.st_size)
        }
        resume = nil
        lseek(fd, off_t(offset), SEEK_SET)
    }

    /// Reads up to `budget` bytes, delivering complete lines; `reachedEnd` says whether the descriptor
    /// had nothing more. A stream is polled first, so a quiet pipe returns instead of blocking.
    private func drain(_ onLine: (UnsafeRawBufferPointer) -> Void, budget: inout Int) -> Int {
        var lines = 0
        reachedEnd = false
        while budget > 0 {
            if isStream {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&p, 1, 0)
                if ready < 0 && errno == EINTR { continue }
                if ready <= 0 {
                    reachedEnd = true
                    break
                }
            }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, min($0.count, budget)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                if n == 0 && isStream {
                    flushPartialAtRotation(onLine)
                    finished = true
                }
                reachedEnd = true
                break
            }
            budget -= n
            offset += Int64(n)
            lines += split(count: n, onLine)
        }
        return lines
    }

    private func split(count: Int, _ onLine: (UnsafeRawBufferPointer) -> Void) -> Int {
        buffer.withUnsafeBytes { raw in
            assembler.feed(UnsafeRawBufferPointer(rebasing: raw[..<count]), counters: &counters, onLine)
        }
    }

    /// A file that ends without a newline at rotation still ends its last line.
    private func flushPartialAtRotation(_ onLine: (UnsafeRawBufferPointer) -> Void) {
        assembler.flush(counters: &counters, onLine)
    }
}
