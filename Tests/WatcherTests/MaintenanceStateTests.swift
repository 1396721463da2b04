import Foundation
import Support
import Testing
import Watcher

@Suite struct MaintenanceStateTests {
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "bgctl-maint-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func file(_ text: String) throws -> String {
        let path = dir + "/maintenance.json"
        try AtomicFile.write(text, to: path)
        return path
    }

    @Test func aSavedStateLoadsBackEqualWithMode0600() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let state = MaintenanceState(on: true, by: "ana", at: "2026-11-26T15:16:52Z", reason: "db upgrade")
        let path = dir + "/maintenance.json"
        try state.save(to: path)
        #expect(MaintenanceState.load(path: path) == state)
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) == 0o600)
    }

    @Test func theFileKeepsTheKeysEarlierVersionsWrote() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/maintenance.json"
        try MaintenanceState(on: false, by: "x", at: "t", reason: "").save(to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == #"{"at":"t","by":"x","maintenance":false,"reason":""}"# + "\n")
    }

    @Test func aFileInTheOldFormatReads() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try file(#"{"maintenance":true,"by":"x","at":"t","reason":""}"#)
        #expect(MaintenanceState.load(path: path) == MaintenanceState(on: true, by: "x", at: "t", reason: ""))
    }

    @Test func aFileWithOnlyTheFlagReadsWithEmptyText() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try file(#"{"maintenance":false}"#)
        #expect(MaintenanceState.load(path: path) == MaintenanceState(on: false, by: "", at: "", reason: ""))
    }

    @Test(arguments: ["", "garbage", "[true]", #"{"maintenance":"yes"}"#, #"{"by":"x"}"#])
    func aFileThatIsNotTheStateIsNil(text: String) throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(MaintenanceState.load(path: try file(text)) == nil)
    }

    @Test func aFileOverTheSizeBoundIsNilEvenWhenItIsValidJSON() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let padding = String(repeating: "x", count: MaintenanceState.maxFileSize)
        let path = try file(#"{"maintenance":true,"by":"x","at":"t","reason":"\#(padding)"}"#)
        #expect(MaintenanceState.load(path: path) == nil)
    }

    @Test func aMissingFileIsNil() {
        #expect(MaintenanceState.load(path: dir + "/none.json") == nil)
    }
}
