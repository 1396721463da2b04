import Foundation
import Testing
import NginxConfigGen
@testable import Orchestrator

/// A deploy entry of the history, as the executor writes it.
func deployed(_ release: String, _ image: String, at time: String = "t", result: String = "promoted") -> HistoryEntry {
    HistoryEntry(time: time, action: "deploy", from: .blue, to: .green, who: "ci", result: result, image: image, release: release)
}

@Suite struct ReleaseHistoryTests {
    @Test func eachReleaseAppearsOnceAtItsLatestDeployOldestFirst() {
        let history = [
            deployed("v1", "shop:1", at: "1"), deployed("v2", "shop:2", at: "2"),
            HistoryEntry(time: "3", action: "switch", from: .green, to: .blue, who: "me", result: "ok"),
            deployed("v1", "shop:1", at: "4"),
        ]
        #expect(ReleaseHistory.releases(history) == [
            KnownRelease(release: "v2", image: "shop:2", at: "2"), KnownRelease(release: "v1", image: "shop:1", at: "4"),
        ])
    }

    /// v5 promoted, then v6 promoted, then v7–v9 each rolled back: a kept set of 3 is v5 and v6 (and
    /// nothing that failed), so prune cannot remove the last good release before v6.
    @Test(arguments: ["rolled_back", "aborted", "staged", "rollback_failed", "planned"])
    func onlyPromotedDeploysAreReleases(_ result: String) {
        let history = [deployed("v5", "shop:5", at: "1"), deployed("v6", "shop:6", at: "2"), deployed("v7", "shop:7", at: "3", result: result)]
        #expect(ReleaseHistory.releases(history).map(\.release) == ["v5", "v6"])
    }

    @Test(arguments: [("v1\u{1B}[2J", "shop:1"), ("v1", "--privileged"), ("v1", "shop:1\nx"), ("v 1", "shop:1")])
    func anEntryWithAMalformedReleaseOrImageIsSkipped(_ release: String, _ image: String) {
        #expect(ReleaseHistory.releases([deployed(release, image)]).isEmpty)
    }

    @Test func entriesWithoutAnImageOrOfOtherActionsNameNoRelease() {
        let history = [
            HistoryEntry(time: "1", action: "deploy", who: "ci", result: "promoted", image: nil, release: "v1"),
            HistoryEntry(time: "2", action: "up", who: "ci", result: "ok", image: "shop:9", release: "v9"),
            HistoryEntry(time: "3", action: "deploy", who: "ci", result: "promoted", image: "", release: "v3"),
        ]
        #expect(ReleaseHistory.releases(history).isEmpty)
    }

    @Test func aReleaseIsLookedUpInTheHistoryFirstThenOnThePools() throws {
        let spec = try Fixture.spec()
        let history = [deployed("v2", "registry/shop:2-rebuilt")]
        #expect(ReleaseHistory.lookup("v2", history: history, spec: spec)?.image == "registry/shop:2-rebuilt")
        #expect(ReleaseHistory.lookup("v1", history: history, spec: spec) == KnownRelease(release: "v1", image: "shop:1", at: nil))
        #expect(ReleaseHistory.lookup("v7", history: history, spec: spec) == nil)
        #expect(ReleaseHistory.lookup("", history: history, spec: spec) == nil)
    }

    @Test func theRecentReleasesAreNewestFirstAndAtMostFive() throws {
        let spec = try Fixture.spec()
        let history = (1...8).map { deployed("r\($0)", "shop:r\($0)") }
        #expect(ReleaseHistory.recent(history, spec: spec) == ["r8", "r7", "r6", "r5", "r4"])
        #expect(ReleaseHistory.recent([], spec: spec) == ["v1", "v2"], "without history, the pools' releases")
    }
}

@Suite struct PrunePlanTests {
    static let history = (1...6).map { deployed("v\($0)", "shop:\($0)", at: "\($0)") }

    func images(_ plan: Plan) -> [String] {
        plan.steps.compactMap { if case .removeImage(let image, _) = $0.action { return image }; return nil }
    }

    @Test func releasesOlderThanTheLastNAreCandidatesOldestFirst() {
        let selection = PrunePlanner.select(history: Self.history, keep: 3, inUse: [:])
        #expect(selection.candidates.map(\.image) == ["shop:1", "shop:2", "shop:3"])
        #expect(selection.kept.map(\.release) == ["v6", "v5", "v4"])
        #expect(selection.kept.allSatisfy { $0.reason == "one of the last 3 releases" })
    }

    @Test(arguments: [(0, 6), (1, 5), (5, 1), (6, 0), (7, 0)])
    func keepNLeavesTheRest(keep: Int, candidates: Int) {
        #expect(PrunePlanner.select(history: Self.history, keep: keep, inUse: [:]).candidates.count == candidates)
    }

    @Test func anImageAPoolRunsOrIsSetToRunIsNeverACandidate() {
        let selection = PrunePlanner.select(history: Self.history, keep: 1, inUse: [
            "shop:2": "the image of the idle pool's container (blue)", "shop:4": "the image the live pool (green) is set to run",
        ])
        #expect(selection.candidates.map(\.image) == ["shop:1", "shop:3", "shop:5"])
        #expect(selection.kept.contains(PrunePlanner.Kept(release: "v2", image: "shop:2", reason: "the image of the idle pool's container (blue)")))
        #expect(selection.kept.contains { $0.release == "v4" })
    }

    @Test func anImageAKeptReleaseSharesStays() {
        let history = [deployed("v1", "shop:same"), deployed("v2", "shop:old"), deployed("v3", "shop:same")]
        let selection = PrunePlanner.select(history: history, keep: 1, inUse: [:])
        #expect(selection.candidates == [PrunePlanner.Candidate(image: "shop:old", releases: ["v2"])])
        #expect(selection.kept.contains(PrunePlanner.Kept(release: "v1", image: "shop:same", reason: "its image is also release v3's, which is kept")))
    }

    @Test func releasesSharingAnOldImageAreOneCandidate() {
        let history = [deployed("a", "shop:x"), deployed("b", "shop:x"), deployed("c", "shop:y")]
        let selection = PrunePlanner.select(history: history, keep: 1, inUse: [:])
        #expect(selection.candidates == [PrunePlanner.Candidate(image: "shop:x", releases: ["a", "b"])])
    }

    @Test func onlyCandidatesOnTheHostGetAStep() {
        let selection = PrunePlanner.select(history: Self.history, keep: 3, inUse: [:])
        var present: [String: Int64?] = ["shop:1": 1_200_000]
        present["shop:3"] = .some(Int64?.none)
        let plan = PrunePlanner.plan(selection, present: present)
        #expect(images(plan) == ["shop:1", "shop:3"])
        #expect(plan.steps.map(\.name) == ["remove-image", "remove-image"])
        #expect(plan.steps[0].description == "remove shop:1 (1.2 MB), the image of v1")
        #expect(plan.listing(try! Fixture.spec()).contains("       docker image rm shop:1"))
    }

    @Test func nothingToRemoveSaysWhy() {
        let none = PrunePlanner.plan(PrunePlanner.select(history: Self.history, keep: 6, inUse: [:]), present: [:])
        #expect(none.isEmpty && none.nothingToDo == "no release older than the last 6 has an image to remove")
        let gone = PrunePlanner.plan(PrunePlanner.select(history: Self.history, keep: 3, inUse: [:]), present: [:])
        #expect(gone.isEmpty && gone.nothingToDo == "the images of older releases are no longer on this host")
    }

    @Test(arguments: [(Int64(0), "0 B"), (999, "999 B"), (1000, "1.0 KB"), (123_456_789, "123 MB"), (99_949_999, "99.9 MB"), (2_500_000_000, "2.5 GB")])
    func byteCountsReadAsDockerPrintsThem(bytes: Int64, text: String) {
        #expect(ByteCount.text(bytes) == text)
    }
}

@Suite struct ImageRemovalTests {
    let command = Docker.removeImage("shop:1")

    @Test func deletedLayersMeanTheImageIsGone() throws {
        let result = CommandResult(status: 0, stdout: "Untagged: shop:1\nDeleted: sha256:aaa\nDeleted: sha256:bbb\n")
        #expect(try ImageRemoval(image: "shop:1", bytes: 42, command: command, result: result) == ImageRemoval(image: "shop:1", result: .removed, bytes: 42))
    }

    @Test func onlyUntaggedMeansAnotherTagKeepsTheImage() throws {
        let result = CommandResult(status: 0, stdout: "Untagged: shop:1\n")
        #expect(try ImageRemoval(image: "shop:1", bytes: 42, command: command, result: result) == ImageRemoval(image: "shop:1", result: .untagged))
    }

    @Test func aConflictIsARefusalWithTheEnginesReason() throws {
        let result = CommandResult(status: 1, stderr: "Error response from daemon: conflict: unable to remove repository reference \"shop:1\" (must force) - container 0a1b is using its referenced image 9f8e\n")
        let removal = try ImageRemoval(image: "shop:1", bytes: 42, command: command, result: result)
        #expect(removal.result == .refused && removal.bytes == nil)
        #expect(removal.detail == "conflict: unable to remove repository reference \"shop:1\" (must force) - container 0a1b is using its referenced image 9f8e")
    }

    @Test func anImageAlreadyGoneIsAbsent() throws {
        let result = CommandResult(status: 1, stderr: "Error response from daemon: No such image: shop:1\n")
        #expect(try ImageRemoval(image: "shop:1", bytes: 42, command: command, result: result).result == .absent)
    }

    @Test func anEngineThatCannotBeReachedIsAnError() {
        let result = CommandResult(status: 1, stderr: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n")
        #expect(throws: OrchestratorError.self) { try ImageRemoval(image: "shop:1", bytes: 42, command: command, result: result) }
    }
}
