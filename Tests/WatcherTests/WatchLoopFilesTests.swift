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
