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
    private var bytes = 0
    private let done = DispatchSemaphore(value: 0)
    static let line = #"{"status":200,"pool":"blue","live":"blue","uri":"/flood","request_time":0.001}"# + "\n"

    init() {
        // A write to a FIFO whose reader has closed raises SIGPIPE; the writer wants EPIPE instead.
        signal(SIGPIPE, SIG_IGN)
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("bgctl-flood-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        path = dir + "/access.log"
        mkfifo(path, 0o600)
        let chunk = Array(String(repeating: Self.line, count: 512).utf8)
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
                lock.lock()
                bytes += n
                lock.unlock()
            }
        }
        thread.start()
    }

    /// Bytes the reader has taken (a FIFO holds at most 64 KiB more): past 1 MiB the flood is flowing.
    var written: Int {
        lock.lock()
        defer { lock.unlock() }
        return bytes
    }

    var flowing: Bool { written >= 1 << 20 }

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

/// The watch loop's clock in tests: each reading moves it on by `step` seconds once `running` says so,
/// so that deadlines are counted in the loop's own passes, never in the test machine's speed.
final class StepClock: @unchecked Sendable {
    private let step: Double
    private let running: () -> Bool
    private(set) var now = 0.0

    init(step: Double, running: @escaping () -> Bool = { true }) {
        self.step = step
        self.running = running
    }

    func read() -> Double {
        if running() { now += step }
        return now
    }
}

/// A stop signal that arrives on the `after`-th look once `armed`. Counts every look (`passes`), the
/// armed ones (`looks`) and those after it said stop.
final class CountedStop: @unchecked Sendable {
    private let after: Int
    private let armed: () -> Bool
    private(set) var passes = 0
    private(set) var looks = 0
    private(set) var looksAfterStop = 0

    init(after: Int, armed: @escaping () -> Bool = { true }) {
        self.after = after
        self.armed = armed
    }

    func check() -> Bool {
        passes += 1
        guard looks >= after || armed() else { return false }
        looks += 1
        if looks > after { looksAfterStop += 1 }
        return looks >= after
    }
}

/// Deadlines, the stop signal and the status file hold at any input rate (issue: `watch --for 2s`
/// under `yes` ran until killed; `--once --log /dev/zero` ignored SIGTERM).
@Suite(.serialized) struct LivenessTests {
    func loop(_ path: String, once: Bool = false, duration: Double? = nil, status: String? = nil,
              clock: StepClock = StepClock(step: 0.001)) -> WatchLoop {
        var options = WatchOptions(logPath: path)
        options.fromStart = true
        options.once = once
        options.duration = duration
        options.statusPath = status
        return WatchLoop(settings: WatchSettings(project: "shop"), options: options, delivery: nil, clock: clock.read) { _, _ in }
    }

    /// The most lines one bounded read of the flood holds (the tailer's default batch is 256 KiB).
    static let linesPerBatch = (1 << 18) / Flood.line.utf8.count + 1

    // The loop once never looked at its deadline under a flood. Its clock moves 0.1 s per reading once
    // the flood flows, so the 0.5 s deadline is due within a few passes, whatever the machine's load.
    @Test func aFloodedLogStopsAtItsDeadline() {
        let flood = Flood()
        defer { flood.stop() }
        let clock = StepClock(step: 0.1) { flood.flowing }
        let summary = loop(flood.path, duration: 0.5, clock: clock).run(stop: { false })
        #expect(summary.lines > 0)
        #expect(clock.now >= 0.5 && clock.now < 1.5, "ended by the deadline, at the first pass past it: \(clock.now) s")
    }

    // Under a flood the loop reads one bounded batch, then looks at the stop signal: it ends at the
    // first look that says stop, with at most one more batch (what was written up to the stop) after it.
    @Test func aFloodedLogStopsAtTheFirstLookAfterTheStopSignal() {
        let flood = Flood()
        defer { flood.stop() }
        let stop = CountedStop(after: 5) { flood.flowing }
        let summary = loop(flood.path).run(stop: stop.check)
        #expect(stop.looksAfterStop == 0)
        #expect(summary.lines > 0)
        #expect(summary.lines <= (stop.passes + 1) * Self.linesPerBatch, "\(summary.lines) lines in \(stop.passes) passes")
    }

    @Test func fiftyMegabytesOfNULBytesWithOnceHonourTheStopSignal() throws {
        let dir = NSTemporaryDirectory() + "bgctl-nul-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/access.log"
        let fd = open(path, O_WRONLY | O_CREAT, 0o600)
        ftruncate(fd, 50 << 20)
        close(fd)
        let stop = CountedStop(after: 3)
        let summary = loop(path, once: true).run(stop: stop.check)
        #expect(stop.looks == 3 && stop.looksAfterStop == 0)
        #expect(summary.lines == 0)
    }

    @Test func devZeroWithOnceHonoursTheStopSignal() {
        let stop = CountedStop(after: 3)
        let summary = loop("/dev/zero", once: true).run(stop: stop.check)
        #expect(stop.looks == 3 && stop.looksAfterStop == 0)
        #expect(summary.lines == 0 && summary.malformed == 1, "one endless line, skipped and counted once")
        #expect(summary.truncations == 0, "a device is not a file that shrank")
    }

    @Test func theStatusFileIsWrittenEverySecondDuringAFlood() throws {
        let flood = Flood()
        defer { flood.stop() }
        let status = flood.dir + "/status.json"
        var seen: Set<Int> = []
        // The loop's clock: 0.25 s per reading (two a pass) once the flood flows; by 2.5 s on it it has
        // written the status at its start and again a second later.
        let clock = StepClock(step: 0.25) { flood.flowing }
        _ = loop(flood.path, status: status, clock: clock).run(stop: {
            if let data = FileManager.default.contents(atPath: status),
               let decoded = try? JSONDecoder().decode(WatcherStatus.self, from: data) { seen.insert(decoded.lines) }
            return clock.now >= 2.5
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
        // Nothing is ever written: a read that blocked would never return.
        #expect(tailer.readAvailable { _ in } == 0)
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
