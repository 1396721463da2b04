import Foundation
import Testing
@testable import NginxConfigGen
@testable import Orchestrator

/// A promoted release's own `--env`, kept for `rollback --to`: bounded, in state.json only, checked when read.
@Suite struct ReleaseFlagsTests {
    @Test func aReleasePromotedAgainReplacesItsEntryAndBecomesTheNewest() {
        let list = ReleaseFlags.adding(ReleaseFlags(release: "b", env: [:]), to: [ReleaseFlags(release: "a", env: ["X": "1"]),
                                                                                  ReleaseFlags(release: "b", env: ["Y": "2"])])
        #expect(list == [ReleaseFlags(release: "a", env: ["X": "1"]), ReleaseFlags(release: "b", env: [:])])
    }

    @Test func exactlyTwentyReleasesAreKeptAndTheTwentyFirstPushesOutTheOldest() {
        var list: [ReleaseFlags]?
        for index in 1...ReleaseFlags.kept { list = ReleaseFlags.adding(ReleaseFlags(release: "r\(index)", env: [:]), to: list) }
        #expect(list?.count == 20 && list?.first?.release == "r1")
        list = ReleaseFlags.adding(ReleaseFlags(release: "r21", env: [:]), to: list)
        #expect(list?.count == 20 && list?.first?.release == "r2" && list?.last?.release == "r21")
    }

    @Test func theFlagsSurviveStateJSONAndAnOlderFileHasNone() throws {
        var state = StackState(project: "shop", live: .blue, updatedAt: "t", lastSwitch: nil)
        state.releaseFlags = [ReleaseFlags(release: "one", env: ["GREETING": "hi"])]
        let data = try JSONEncoder().encode(state)
        #expect(String(decoding: data, as: UTF8.self).contains("\"release_flags\""))
        #expect(try JSONDecoder().decode(StackState.self, from: data).releaseFlags == state.releaseFlags)
        let older = try JSONDecoder().decode(StackState.self, from: Data(#"{"project":"shop","live":"blue","updated_at":"t"}"#.utf8))
        #expect(older.releaseFlags == nil)
    }

    @Test(arguments: [
        (ReleaseFlags(release: "bad release", env: [:]), "release_flags: a release is not a valid release label"),
        (ReleaseFlags(release: "one", env: ["1X": "v"]), "release_flags.env: a key is not a valid environment variable name"),
        (ReleaseFlags(release: "one", env: ["X": "a\nb"]), "release_flags.env.X: holds a NUL or a line break (value not shown)"),
    ])
    func aDamagedEntryIsAProblemOfTheFile(_ flags: ReleaseFlags, _ problem: String) {
        var state = StackState(project: "shop", live: .blue, updatedAt: "t", lastSwitch: nil)
        state.releaseFlags = [flags]
        #expect(state.problems() == [problem])
    }

    @Test func theHistoryEntryNamesTheVariablesAndNeverHoldsTheirValues() throws {
        let draft = HistoryDraft(action: "deploy", result: "promoted", release: "one", env: ["GREETING"])
        let entry = HistoryEntry(draft, time: "t", who: "ci", durationMs: 1)
        let text = String(decoding: try JSONEncoder().encode(entry), as: UTF8.self)
        #expect(text.contains(#""env":["GREETING"]"#))
        #expect(ReleaseHistory.releases([HistoryEntry(time: "t", action: "deploy", who: "ci", result: "promoted", image: "shop:1",
                                                      release: "one", env: ["GREETING", "bad name"])]).first?.env == ["GREETING"])
    }
}
