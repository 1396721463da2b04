import Foundation
import Support
import Testing
import Watcher

/// The files a watcher leaves for `bgctl status` and for its own restart.
@Suite struct WatchLoopFilesTests {
    @Test func statusAndPositionFilesAreWrittenWithMode0600AndNoTempFiles() throws {
        let dir = NSTemporaryDirectory() + "bgctl-loop-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AtomicFile.write(#"{"status":200,"pool":"blue","live":"blue","uri":"/"}"# + "\n", to: dir + "/access.log")
        try MaintenanceState(on: true, by: "x", at: "t", reason: "").save(to: dir + "/maintenance.json")
        var options = WatchOptions(logPath: dir + "/access.log")
        options.fromStart = true
        options.once = true
        options.statusPath = dir + "/status.json"
        options.checkpointPath = dir + "/position.json"
        options.maintenancePath = dir + "/maintenance.json"
        let loop = WatchLoop(settings: WatchSettings(project: "shop"), options: options, delivery: nil, clock: { 1000 }) { _, _ in }
        let summary = loop.run(stop: { false })
        #expect(summary.lines == 1)
        for name in ["status.json", "position.json"] {
            #expect((try FileManager.default.attributesOfItem(atPath: dir + "/" + name)[.posixPermissions] as? Int) == 0o600)
        }
        let status = try JSONDecoder().decode(WatcherStatus.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/status.json")))
        #expect(status.maintenance, "the maintenance file says on")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(names == ["access.log", "maintenance.json", "position.json", "status.json"])
    }
}

/// A watcher given a way to reopen the writer rotates the log it follows and still counts every line once.
@Suite struct WatchLoopRotationTests {
    @Test func theLoopRotatesPastMaxSizeAndCountsEveryLineOnceAcrossTheFiles() throws {
        let file = LogFile()
        file.write("")
        var options = WatchOptions(logPath: file.path)
        options.fromStart = true
        options.rotation = LogRotation.Policy(maxSize: 1024, keep: 3)
        var reopened = 0
        var now = 1000.0
        var written = 0
        let loop = WatchLoop(settings: WatchSettings(project: "shop"), options: options, delivery: nil,
                             clock: { now += 0.6; return now }, reopen: { reopened += 1; file.reopen(); return true }) { _, _ in }
        let summary = loop.run(stop: {
            // 40 lines of ~45 bytes between ticks: past 1 KiB at every other tick.
            for _ in 0..<40 where written < 600 {
                file.write(file.line(written))
                written += 1
            }
            return written >= 600
        })
        #expect(summary.lines == 600)
        #expect(summary.rotated >= 5 && summary.rotated == reopened, "\(summary.rotated) rotations, \(reopened) reopens")
        let names = try FileManager.default.contentsOfDirectory(atPath: file.dir).filter { !$0.hasPrefix(".") }.sorted()
        #expect(names == ["access.log", "access.log.1", "access.log.2", "access.log.3"])
    }

    @Test func withoutAReopenTheLoopNeverRenamesTheLog() throws {
        let file = LogFile()
        for id in 0..<100 { file.write(file.line(id)) }
        var options = WatchOptions(logPath: file.path)
        options.fromStart = true
        options.rotation = LogRotation.Policy(maxSize: 1024, keep: 3)
        var now = 1000.0
        var calls = 0
        let summary = WatchLoop(settings: WatchSettings(project: "shop"), options: options, delivery: nil,
                                clock: { now += 0.6; return now }) { _, _ in }.run(stop: { calls += 1; return calls > 5 })
        #expect(summary.lines == 100 && summary.rotated == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: file.dir).filter { !$0.hasPrefix(".") } == ["access.log"])
    }
}
