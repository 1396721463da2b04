import Foundation
import NginxConfigGen
import Testing
@testable import Orchestrator

/// state.json carries the version of its format, so that an upgraded bgctl reads an older file and an
/// older bgctl refuses a newer one instead of misreading it.
@Suite struct StateSchemaTests {
    /// A store over a fresh temporary state folder.
    static func store() throws -> StateStore {
        var spec = try Fixture.spec()
        spec.stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("bgctl-schema-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: spec.stateDir, withIntermediateDirectories: true)
        return StateStore(paths: StackPaths(spec: spec, specDirectory: "/"))
    }

    static func write(_ json: String, _ store: StateStore) throws {
        try json.write(toFile: store.paths.stateFile, atomically: true, encoding: .utf8)
    }

    @Test func aSavedStateNamesTheCurrentSchema() throws {
        let store = try Self.store()
        defer { try? FileManager.default.removeItem(atPath: store.paths.stateDir) }
        try store.save(StackState(project: "shop", live: .green, updatedAt: "2026-11-27T10:00:00Z", lastSwitch: nil))
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: store.paths.stateFile))) as? [String: Any]
        #expect(object?["schema"] as? Int == StackState.schema)
        #expect(StackState.schema == 1)
    }

    /// bgctl 0.1 wrote no schema: that file is schema 1 and reads as it always did.
    @Test func aStateWithoutASchemaIsFromBgctl01AndReads() throws {
        let store = try Self.store()
        defer { try? FileManager.default.removeItem(atPath: store.paths.stateDir) }
        try Self.write(#"{"project": "shop", "live": "green", "updated_at": "2026-11-01T00:00:00Z"}"#, store)
        let state = try #require(try store.load())
        #expect(state.schema == 1)
        #expect(state.live == .green)
    }

    @Test(arguments: [1, 2])
    func aStateUpToTheCurrentSchemaReadsAndANewerOneIsRefused(schema: Int) throws {
        let store = try Self.store()
        defer { try? FileManager.default.removeItem(atPath: store.paths.stateDir) }
        try Self.write(#"{"schema": \#(schema), "project": "shop", "live": "blue", "updated_at": "2026-11-01T00:00:00Z"}"#, store)
        if schema <= StackState.schema {
            #expect(try store.load()?.live == .blue)
        } else {
            #expect(throws: OrchestratorError.stateTooNew(path: store.paths.stateFile, schema: schema, reads: StackState.schema)) {
                try store.load()
            }
            let message = OrchestratorError.stateTooNew(path: "/s/state.json", schema: schema, reads: 1).description
            #expect(message.contains("newer bgctl") && message.contains("schema \(schema)"), "\(message)")
        }
    }
}
