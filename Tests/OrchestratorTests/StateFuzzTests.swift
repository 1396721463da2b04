import Foundation
import FuzzSupport
import NginxConfigGen
import Testing
@testable import Orchestrator

/// The readers of files others may write in the state folder, on generated and mutated contents:
/// state.json is read exactly when every value in it passes the spec's own rules, and then never
/// carries a docker option or an nginx block; the journal and history lines read as entries or as
/// nothing, never a crash, and the valid history lines among garbage come back in order.
@Suite struct StateFuzzTests {
    static var iterations: Int { ProcessInfo.processInfo.environment["BGCTL_FUZZ_ITERATIONS"].flatMap(Int.init).map { min($0, 20_000) } ?? 600 }
    static var seed: UInt64 { ProcessInfo.processInfo.environment["BGCTL_FUZZ_SEED"].flatMap(UInt64.init) ?? 0x6267_6374_6C21 }

    static let images = ["shop:1", "registry.example:5000/team/shop@sha256:" + String(repeating: "a", count: 64), "--privileged", "-v/:/host",
                         "shop:1 --rm", "", "shop:\n1", "Shop:1", String(repeating: "s", count: 300)]
    static let releases = ["v1", "", "2026.11.27+build/7", "\";}server{listen 1;}", "v1\n", "v 1", "$host", String(repeating: "r", count: 129)]
    static let envKeys = ["FLAG", "_X1", "A\nB", "1A", "", "A-B", "A=B", String(repeating: "K", count: 300)]
    static let envValues = ["on", "", "a b=c", "a\nb", "a\rb", "a\u{0}b", "é😀"]
    static let projects = ["shop", "shop-2", "Shop", "", "a b", "../x"]
    static let poolNames = ["blue", "green", "red", "", "Blue"]

    /// A state.json as bgctl writes it, with values chosen from both good and hostile ones.
    static func state<G: RandomNumberGenerator>(_ g: inout G) -> StackState {
        var deployed: [String: DeployedRelease] = [:]
        for _ in 0..<Int.random(in: 0...2, using: &g) {
            var env: [String: String] = [:]
            for _ in 0..<Int.random(in: 0...2, using: &g) { env[envKeys.randomElement(using: &g)!] = envValues.randomElement(using: &g)! }
            deployed[poolNames.randomElement(using: &g)!] = DeployedRelease(image: images.randomElement(using: &g)!, release: releases.randomElement(using: &g)!,
                                                                            env: env, at: "2026-11-27T10:00:00Z")
        }
        var weights: [String: Int]?
        if Bool.random(using: &g) { weights = [poolNames.randomElement(using: &g)!: Int.random(in: -5...105, using: &g)] }
        let entry = Bool.random(using: &g) ? HistoryEntry(time: "t", action: "switch", from: .blue, to: .green, who: "\u{1B}[2Jeve",
                                                          reason: releases.randomElement(using: &g), result: "ok") : nil
        var state = StackState(project: projects.randomElement(using: &g)!, live: Bool.random(using: &g) ? .blue : .green, updatedAt: "t",
                               lastSwitch: entry, deployed: deployed.isEmpty ? nil : deployed)
        state.weights = weights
        return state
    }

    /// Whether each value of `state` passes the rule the spec and the flags apply to it: the oracle.
    static func valid(_ state: StackState) -> Bool {
        Syntax.isProjectNameValue(state.project)
            && (state.deployed ?? [:]).allSatisfy { name, release in
                Pool(rawValue: name) != nil && Syntax.isImageReferenceValue(release.image) && !release.image.hasPrefix("-")
                    && (release.release.isEmpty || Syntax.isReleaseValue(release.release))
                    && release.env.allSatisfy { Syntax.isEnvironmentNameValue($0.key) && !$0.value.unicodeScalars.contains { $0 == "\n" || $0 == "\r" || $0 == "\0" } }
            }
            && (state.weights ?? [:]).allSatisfy { Pool(rawValue: $0.key) != nil && (0...100).contains($0.value) }
    }

    static func folder() throws -> StackPaths {
        var spec = try Fixture.spec()
        spec.stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("bgctl-statefuzz-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: spec.stateDir, withIntermediateDirectories: true)
        return StackPaths(spec: spec, specDirectory: "/")
    }

    /// Byte-level damage: a flip, a cut, a hostile fragment pasted in.
    static func mutate<G: RandomNumberGenerator>(_ bytes: inout [UInt8], _ g: inout G) {
        guard !bytes.isEmpty else { return }
        switch Int.random(in: 0..<4, using: &g) {
        case 0:
            for _ in 0..<Int.random(in: 1...4, using: &g) {
                bytes[Int.random(in: 0..<bytes.count, using: &g)] = [0x22, 0x5C, 0x7B, 0x7D, 0x2C, 0x3A, 0x00, 0xFF, 0x0A, 0x2D].randomElement(using: &g)!
            }
        case 1: bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &g)))
        case 2:
            let fragments = [#","schema":99"#, #","deployed":{"blue":{"image":"--privileged","release":"v","env":{},"at":"t"}}"#,
                             #""live":"red","#, #""weights":{"blue":1e400},"#, "\\u0000", #"\ud800"#, "[[[[[[[[", "null,"]
            bytes.insert(contentsOf: Array(fragments.randomElement(using: &g)!.utf8), at: Int.random(in: 0...bytes.count, using: &g))
        default: bytes = (0..<Int.random(in: 0...300, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
        }
    }

    @Test func aStateIsReadExactlyWhenEveryValueInItPassesTheSpecsRules() throws {
        let paths = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: paths.stateDir) }
        let store = StateStore(paths: paths)
        var g = SplitMix64(seed: Self.seed &+ 20)
        var accepted = 0
        for iteration in 0..<Self.iterations {
            let written = Self.state(&g)
            try store.save(written)
            let read: StackState?
            do { read = try store.load() } catch { read = nil }
            let expected = Self.valid(written)
            if (read != nil) != expected || (read != nil && read != written) {
                Issue.record("seed \(Self.seed) iteration \(iteration): read \(read != nil), valid \(expected): \(written)")
                return
            }
            if read != nil { accepted += 1 }
        }
        #expect(accepted > 0 && accepted < Self.iterations, "the generator made \(accepted) valid states of \(Self.iterations)")
    }

    @Test func aDamagedStateIsRefusedWithItsPathOrReadAsOneThatPassesEveryRule() throws {
        let paths = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: paths.stateDir) }
        let store = StateStore(paths: paths)
        var g = SplitMix64(seed: Self.seed &+ 21)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for iteration in 0..<Self.iterations {
            var bytes = Array(try encoder.encode(Self.state(&g)))
            Self.mutate(&bytes, &g)
            try Data(bytes).write(to: URL(fileURLWithPath: paths.stateFile))
            do {
                guard let state = try store.load() else { continue }
                if !Self.valid(state) || !state.problems().isEmpty {
                    Issue.record("seed \(Self.seed) iteration \(iteration): accepted \(String(decoding: bytes, as: UTF8.self).debugDescription)")
                    return
                }
            } catch let error as OrchestratorError {
                switch error {
                case .stateUnreadable(let path, _) where path == paths.stateFile: continue
                case .stateTooNew(let path, _, _) where path == paths.stateFile: continue
                default:
                    Issue.record("seed \(Self.seed) iteration \(iteration): \(error)")
                    return
                }
            } catch {
                Issue.record("seed \(Self.seed) iteration \(iteration): not an OrchestratorError: \(error)")
                return
            }
        }
    }

    @Test func aJournalReadsAsTheEntryWrittenOrAsNoneWhenDamaged() throws {
        let paths = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: paths.stateDir) }
        let journal = Journal(paths: paths, files: LocalFileSystem())
        var g = SplitMix64(seed: Self.seed &+ 22)
        for iteration in 0..<Self.iterations {
            var entry = JournalEntry(operation: ["switch", "deploy", "\u{1B}]0;x\u{7}"].randomElement(using: &g)!, title: Self.releases.randomElement(using: &g)!,
                                     pid: Int32.random(in: Int32.min...Int32.max, using: &g), who: Self.envValues.randomElement(using: &g)!, started: "t",
                                     image: Self.images.randomElement(using: &g))
            entry.done = (0..<Int.random(in: 0...3, using: &g)).map { _ in Self.envKeys.randomElement(using: &g)! }
            entry.current = Bool.random(using: &g) ? "switch/reload" : nil
            try journal.write(entry)
            guard journal.read() == entry else {
                Issue.record("seed \(Self.seed) iteration \(iteration): \(entry) did not read back")
                return
            }
            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: paths.journalFile)))
            Self.mutate(&bytes, &g)
            try Data(bytes).write(to: URL(fileURLWithPath: paths.journalFile))
            // Whatever it holds, a read gives an entry or none, and says so without a crash.
            _ = journal.read()?.summary
        }
    }

    @Test func validHistoryLinesAmidGarbageReadBackInOrder() throws {
        let paths = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: paths.stateDir) }
        let store = StateStore(paths: paths)
        var g = SplitMix64(seed: Self.seed &+ 23)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for iteration in 0..<max(1, Self.iterations / 4) {
            var file: [UInt8] = []
            var written: [HistoryEntry] = []
            for _ in 0..<Int.random(in: 0...12, using: &g) {
                let entry = HistoryEntry(time: "t\(written.count)", action: ["deploy", "switch", "\u{202E}x"].randomElement(using: &g)!, who: "eve",
                                         reason: Self.envValues.randomElement(using: &g), result: ["promoted", "ok", "failed"].randomElement(using: &g)!,
                                         image: Self.images.randomElement(using: &g), release: Self.releases.randomElement(using: &g))
                let line = Array(try encoder.encode(entry))
                if Int.random(in: 0..<3, using: &g) == 0 {
                    // Garbage: a cut line, random bytes without a newline, or JSON of the wrong shape.
                    let garbage: [[UInt8]] = [Array(line.prefix(Int.random(in: 0..<line.count, using: &g))),
                                              (0..<Int.random(in: 0...80, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }.filter { $0 != 0x0A },
                                              Array(#"{"time":1,"action":"deploy","who":"x","result":"ok"}"#.utf8), Array("[]".utf8)]
                    file += garbage.randomElement(using: &g)! + [0x0A]
                } else {
                    file += line + [0x0A]
                    written.append(entry)
                }
            }
            try Data(file).write(to: URL(fileURLWithPath: paths.historyFile))
            let read = store.history()
            let releases = ReleaseHistory.releases(read)
            let wellFormed = releases.allSatisfy { Syntax.isReleaseValue($0.release) && Syntax.isImageReferenceValue($0.image) && !$0.image.hasPrefix("-") }
            if read != written || !wellFormed {
                Issue.record("seed \(Self.seed) iteration \(iteration): \(read.count) entries read, \(written.count) written; releases well-formed: \(wellFormed)")
                return
            }
        }
    }
}
