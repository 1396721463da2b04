import Foundation
import Testing
@testable import Watcher

/// Real files in a temporary folder; a writer thread appends while the tailer follows.
final class LogFile: @unchecked Sendable {
    let dir: String
    let path: String
    private var fd: Int32 = -1
    let lock = NSLock()

    init() {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("bgctl-tail-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        path = dir + "/access.log"
    }

    deinit {
        if fd >= 0 { close(fd) }
        try? FileManager.default.removeItem(atPath: dir)
    }

    func reopen() {
        if fd >= 0 { close(fd) }
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
    }

    func write(_ text: String) {
        if fd < 0 { reopen() }
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
    }

    func line(_ id: Int) -> String { #"{"status":200,"pool":"blue","uri":"/\#(id)"}"# + "\n" }
}

/// Reads until `expected` lines arrived or `seconds` passed; returns the uri ids seen in order.
func follow(_ tailer: Tailer, expected: Int, seconds: Double = 10, whileWaiting: () -> Void = {}) -> [Int] {
    var ids: [Int] = []
    let deadline = Date().addingTimeInterval(seconds)
    while ids.count < expected && Date() < deadline {
        tailer.readAvailable { line in
            if let record = LineParser.parse(line) { ids.append(Int(LineParser.text(line, record.uri).dropFirst()) ?? -1) }
        }
        whileWaiting()
        tailer.wait(timeout: 0.05)
    }
    return ids
}

@Suite(.serialized) struct TailerTests {
    @Test func aLineWrittenInTwoPartsIsDeliveredOnceWhole() {
        let log = LogFile()
        log.write("")
        let tailer = Tailer(path: log.path, fromStart: true)
        #expect(tailer.usesInotify)
        log.write(#"{"status":200,"pool":"#)
        #expect(follow(tailer, expected: 1, seconds: 0.3).isEmpty)
        log.write(#""blue","uri":"/7"}"# + "\n")
        #expect(follow(tailer, expected: 1) == [7])
    }

    @Test func startsAtTheEndByDefaultAndFromTheStartWhenAsked() {
        let log = LogFile()
        for i in 0..<5 { log.write(log.line(i)) }
        let atEnd = Tailer(path: log.path, fromStart: false)
        let fromStart = Tailer(path: log.path, fromStart: true)
        log.write(log.line(5))
        #expect(follow(atEnd, expected: 1) == [5])
        #expect(follow(fromStart, expected: 6) == [0, 1, 2, 3, 4, 5])
    }

    @Test func aFileThatAppearsLaterIsReadFromItsStart() {
        let log = LogFile()
        let tailer = Tailer(path: log.path, fromStart: false)
        #expect(follow(tailer, expected: 1, seconds: 0.2).isEmpty)
        for i in 0..<3 { log.write(log.line(i)) }
        #expect(follow(tailer, expected: 3) == [0, 1, 2])
    }

    @Test func renameRotationUnderContinuousWritesLosesAndRepeatsNothing() {
        let log = LogFile()
        log.reopen()
        let tailer = Tailer(path: log.path, fromStart: true)
        let total = 3000
        let writer = Thread {
            var id = 0
            while id < total {
                log.write(log.line(id))
                id += 1
                if id % 600 == 0 && id < total {
                    // Like logrotate + nginx -s reopen: rename, two more lines into the old file, reopen.
                    rename(log.path, log.path + ".\(id)")
                    log.write(log.line(id))
                    log.write(log.line(id + 1))
                    id += 2
                    log.reopen()
                }
                if id % 100 == 0 { usleep(2000) }
            }
        }
        writer.start()
        let ids = follow(tailer, expected: total, seconds: 20)
        #expect(ids.count == total, "every line exactly once")
        #expect(Set(ids) == Set(0..<total))
        #expect(tailer.counters.rotations == 4)
    }

    @Test func copytruncateUnderContinuousWritesLosesAndRepeatsNothing() {
        let log = LogFile()
        log.reopen()
        let tailer = Tailer(path: log.path, fromStart: true)
        let total = 2000
        let rotateAt: Set<Int> = [500, 1000, 1500]
        let seen = NSLock()
        nonisolated(unsafe) var consumed = 0
        let writer = Thread {
            for i in 0..<total {
                if rotateAt.contains(i) {
                    // copytruncate: copy, then truncate in place while the writer keeps its descriptor.
                    // Lines written between the copy and the truncate would exist only in the copy, for
                    // any reader; the rotation waits until the tailer has read everything written so far.
                    while true {
                        seen.lock()
                        let c = consumed
                        seen.unlock()
                        if c >= i { break }
                        usleep(1000)
                    }
                    _ = try? FileManager.default.copyItem(atPath: log.path, toPath: log.path + ".\(i)")
                    truncate(log.path, 0)
                }
                log.write(log.line(i))
                if i % 50 == 0 { usleep(1000) }
            }
        }
        writer.start()
        var ids: [Int] = []
        let deadline = Date().addingTimeInterval(20)
        while ids.count < total && Date() < deadline {
            tailer.readAvailable { line in
                if let record = LineParser.parse(line) { ids.append(Int(LineParser.text(line, record.uri).dropFirst()) ?? -1) }
            }
            seen.lock()
            consumed = ids.count
            seen.unlock()
            tailer.wait(timeout: 0.05)
        }
        #expect(ids == Array(0..<total))
        #expect(tailer.counters.truncations == 3)
    }

    @Test func deletionAndRecreationIsFollowed() {
        let log = LogFile()
        for i in 0..<3 { log.write(log.line(i)) }
        let tailer = Tailer(path: log.path, fromStart: true)
        #expect(follow(tailer, expected: 3) == [0, 1, 2])
        unlink(log.path)
        #expect(follow(tailer, expected: 1, seconds: 0.2).isEmpty)
        log.reopen()
        for i in 3..<6 { log.write(log.line(i)) }
        #expect(follow(tailer, expected: 3) == [3, 4, 5])
    }

    @Test func aLineOverTheCapIsSkippedAndCountedAndTheNextLineIsRead() {
        let log = LogFile()
        log.write("")
        let tailer = Tailer(path: log.path, fromStart: true, maxLine: 1000, bufferSize: 256)
        log.write(String(repeating: "x", count: 5000) + "\n")
        log.write(log.line(1))
        #expect(follow(tailer, expected: 1) == [1])
        #expect(tailer.counters.tooLong == 1)
    }

    @Test func aRestartResumesFromTheSavedPosition() {
        let log = LogFile()
        for i in 0..<3 { log.write(log.line(i)) }
        let first = Tailer(path: log.path, fromStart: true)
        #expect(follow(first, expected: 3) == [0, 1, 2])
        let position = first.position
        for i in 3..<5 { log.write(log.line(i)) }
        let restarted = Tailer(path: log.path, fromStart: false, resume: position)
        #expect(follow(restarted, expected: 2) == [3, 4], "lines written while it was down are not skipped")
    }

    /// Two rename rotations between two reads: the file in the middle was never opened, and is read too.
    @Test func aFileRotatedPastBetweenTwoReadsIsStillRead() throws {
        let file = LogFile()
        let tailer = Tailer(path: file.path, fromStart: true)
        tailer.retiredGrace = 0
        let policy = LogRotation.Policy(maxSize: 1, keep: 5)
        var ids: [Int] = []
        let collect: (UnsafeRawBufferPointer) -> Void = { line in
            if let record = LineParser.parse(line) { ids.append(Int(LineParser.text(line, record.uri).dropFirst()) ?? -1) }
        }
        for id in 0..<3 { file.write(file.line(id)) }
        tailer.readAvailable(collect)
        for round in 1...3 {
            #expect(try LogRotation.rotate(file.path, policy: policy, files: LocalRotationFiles()).rotated)
            file.reopen()
            for id in (round * 3)..<(round * 3 + 3) { file.write(file.line(id)) }
        }
        tailer.readAvailable(collect)
        tailer.readAvailable(collect)
        #expect(ids.sorted() == Array(0..<12))
        #expect(ids.count == 12, "no line twice")
        #expect(tailer.counters.rotations == 3)
    }
}
