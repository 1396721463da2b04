import Foundation
import Testing
@testable import Watcher

/// A FIFO in a temporary folder, fed by a writer thread that writes a valid line in a tight loop
/// until the reader goes away or `stop()`.
final class Flood: @unchecked Sendable {
    let dir: String
    let path: String
    private let lock = NSLock()
    private var stopped = false
    private let done = DispatchSemaphore(value: 0)

    init() {
        // A write to a FIFO whose reader has closed raises SIGPIPE; the writer wants EPIPE instead.
        signal(SIGPIPE, SIG_IGN)
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("bgctl-flood-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        path = dir + "/access.log"
        mkfifo(path, 0o600)
        let line = #"{"status":200,"pool":"blue","live":"blue","uri":"/flood","request_time":0.001}"# + "\n"
        let chunk = Array(String(repeating: line, count: 512).utf8)
        let thread = Thread { [self] in
            defer { done.signal() }
            var fd: Int32 = -1
            // Opening for writing waits for a reader; poll so a reader that never comes cannot hang us.
            let deadline = Date().addingTimeInterval(5)
            while fd < 0 && Date() < deadline && !isStopped {
                fd = open(path, O_WRONLY | O_NONBLOCK)
                if fd < 0 { usleep(1000) }
            }
            guard fd >= 0 else { return }
            defer { close(fd) }
            while !isStopped {
                let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EAGAIN { continue }
                if n < 0 { return }
            }
        }
        thread.start()
    }

    var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
        done.wait()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

func seconds(since start: Date) -> Double { Date().timeIntervalSince(start) }

/// Deadlines, the stop signal and the status file hold at any input rate (issue: `watch --for 2s`
/// under `yes` ran until killed; `--once --log /dev/zero` ignored SIGTERM).
@Suite(.serialized) struct LivenessTests {
    func loop(_ path: String, once: Bool = false, duration: Double? = nil, status: String? = nil) -> WatchLoop {
        var options = WatchOptions(logPath: path)
        options.fromStart = true
        options.once = once
        options.duration = duration
        options.statusPath = status
        return WatchLoop(settings: WatchSettings(project: "shop"), options: options, delivery: nil) { _, _ in }
    }

    @Test func aFloodedLogStopsAtItsDeadline() {
        let flood = Flood()
        defer { flood.stop() }
        let started = Date()
        let summary = loop(flood.path, duration: 0.5).run(stop: { false })
        let elapsed = seconds(since: started)
        // The bound above is loose on purpose: a loaded 2-core machine delays the last batch, and what
        // this checks is that the deadline ends the loop at all under a flood (it once never did).
        #expect(elapsed >= 0.5 && elapsed < 2.5, "returned after \(elapsed) s")
        #expect(summary.lines > 0)
    }

    @Test func aFloodedLogStopsWithin100msOfTheStopSignal() {
        let flood = Flood()
        defer { flood.stop() }
        let stopAt = Date().addingTimeInterval(0.3)
        _ = loop(flood.path).run(stop: { Date() >= stopAt })
        let late = -stopAt.timeIntervalSinceNow
        #expect(late < 0.1, "returned \(late) s after stop")
    }

    @Test func fiftyMegabytesOfNULBytesWithOnceHonourTheStopSignal() throws {
        let dir = NSTemporaryDirectory() + "bgctl-nul-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/access.log"
        let fd = open(path, O_WRONLY | O_CREAT, 0o600)
        ftruncate(fd, 50 << 20)
        close(fd)
        let stopAt = Date().addingTimeInterval(0.2)
        let summary = loop(path, once: true).run(stop: { Date() >= stopAt })
        #expect(-stopAt.timeIntervalSinceNow < 0.1)
        #expect(summary.lines == 0)
    }

    @Test func devZeroWithOnceHonoursTheStopSignal() {
        let stopAt = Date().addingTimeInterval(0.2)
        let summary = loop("/dev/zero", once: true).run(stop: { Date() >= stopAt })
        #expect(-stopAt.timeIntervalSinceNow < 0.1)
        #expect(summary.lines == 0 && summary.malformed == 1, "one endless line, skipped and counted once")
        #expect(summary.truncations == 0, "a device is not a file that shrank")
    }

    @Test func theStatusFileIsWrittenEverySecondDuringAFlood() throws {
        let flood = Flood()
        defer { flood.stop() }
        let status = flood.dir + "/status.json"
        var seen: Set<Int> = []
        let stopAt = Date().addingTimeInterval(1.2)
        _ = loop(flood.path, status: status).run(stop: {
            if let data = FileManager.default.contents(atPath: status),
               let decoded = try? JSONDecoder().decode(WatcherStatus.self, from: data) { seen.insert(decoded.lines) }
            return Date() >= stopAt
        })
        #expect(seen.count >= 2, "written at the start and again a second later: \(seen.sorted())")
    }
}

@Suite struct TailerBatchTests {
    @Test func aQuietPipeReturnsAtOnceInsteadOfBlocking() {
        var ends: [Int32] = [0, 0]
        pipe(&ends)
        defer { close(ends[0]); close(ends[1]) }
        let tailer = Tailer(descriptor: ends[0])
        let started = Date()
        #expect(tailer.readAvailable { _ in } == 0)
        #expect(seconds(since: started) < 0.05)
        #expect(tailer.caughtUp && !tailer.finished)
    }

    @Test func oneReadTakesAtMostOneBatchAndSaysMoreIsLeft() throws {
        let log = LogFile()
        for i in 0..<4000 { log.write(log.line(i)) }
        let tailer = Tailer(path: log.path, fromStart: true, bufferSize: 4096, batchBytes: 16_384)
        let first = tailer.readAvailable { _ in }
        #expect(first > 0 && first < 4000 && !tailer.caughtUp)
        var total = first
        while !tailer.caughtUp { total += tailer.readAvailable { _ in } }
        #expect(total == 4000)
    }

    @Test func anEndlessLineIsSkippedInBoundedMemoryAndCountedOnce() {
        let tailer = Tailer(path: "/dev/zero", fromStart: true, maxLine: 1000, batchBytes: 1 << 20)
        for _ in 0..<8 { #expect(tailer.readAvailable { _ in Issue.record("no line ends") } == 0) }
        #expect(!tailer.caughtUp)
        #expect(tailer.counters == Tailer.Counters(rotations: 0, truncations: 0, tooLong: 1))
    }

    @Test func aPipeThatEndsDeliversItsLastLineWithoutANewline() {
        var ends: [Int32] = [0, 0]
        pipe(&ends)
        defer { close(ends[0]) }
        let text = Array((#"{"status":200,"uri":"/1"}"# + "\n" + #"{"status":200,"uri":"/2"}"#).utf8)
        _ = text.withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) }
        close(ends[1])
        let tailer = Tailer(descriptor: ends[0])
        var uris: [String] = []
        while !tailer.finished {
            tailer.readAvailable { line in if let r = LineParser.parse(line) { uris.append(LineParser.text(line, r.uri)) } }
        }
        #expect(uris == ["/1", "/2"])
    }

    @Test func onceOnAFileCountsALastLineWithoutANewline() throws {
        let log = LogFile()
        log.write(log.line(1) + #"{"status":500,"pool":"blue","uri":"/2"}"#)
        var options = WatchOptions(logPath: log.path)
        options.fromStart = true
        options.once = true
        let summary = WatchLoop(settings: WatchSettings(project: "shop"), options: options, delivery: nil) { _, _ in }.run(stop: { false })
        #expect(summary.lines == 2 && summary.status5xx == 1)
    }

    /// Preview requests go where their client asked: 60 failing ones on green raise no alert about the
    /// live routing, and the summary counts them apart.
    @Test func previewRoutedLinesRaiseNoAlert() throws {
        let log = LogFile()
        let line = #"{"status":500,"pool":"green","live":"blue","upstream_status":"500","route":"cookie","uri":"/p"}"#
        log.write(Array(repeating: line, count: 60).joined(separator: "\n") + "\n")
        var options = WatchOptions(logPath: log.path)
        options.fromStart = true
        options.once = true
        var alerts = 0
        let summary = WatchLoop(settings: WatchSettings(project: "shop"), options: options, delivery: nil) { _, _ in alerts += 1 }.run(stop: { false })
        #expect(summary.lines == 60 && summary.previewRouted == 60)
        #expect(alerts == 0 && summary.alerts.isEmpty)
    }
}
