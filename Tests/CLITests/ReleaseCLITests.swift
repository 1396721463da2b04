import Foundation
import Testing

/// `rollback --to` and `prune` run as a person would, against fake docker scripts.
@Suite struct ReleaseCLITests {
    /// A history of deploys of releases v1…vN (image shop:N), and state.json with blue live.
    func writeHistory(_ sandbox: Sandbox, releases: Int) throws {
        try FileManager.default.createDirectory(atPath: sandbox.stateDirectory, withIntermediateDirectories: true)
        let lines = (1...max(1, releases)).prefix(releases).map { n in
            #"{"action":"deploy","from":"blue","to":"green","image":"shop:\#(n)","release":"v\#(n)","result":"promoted","time":"2026-11-2\#(n % 10)T10:00:00Z","who":"ci"}"#
        }
        try (lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n")).write(toFile: sandbox.stateDirectory + "/history.jsonl", atomically: true, encoding: .utf8)
        try #"{"project":"bgctlclitest","live":"blue","updated_at":"t"}"#.write(toFile: sandbox.stateDirectory + "/state.json", atomically: true, encoding: .utf8)
    }

    /// An engine with blue and green running the spec's image, images shop:1…shop:9 of 1 MB each
    /// except `missing`, and `docker image rm` that refuses `refuse`.
    static func engine(missing: [String] = [], refuse: [String] = []) -> FakeDocker {
        let container = { (name: String) in
            #"{"Id":"id-\#(name)","Name":"/\#(name)","State":{"Status":"running","ExitCode":0},"Config":{"Image":"bgctl/demo-app:local","Labels":{"io.bgctl.project":"bgctlclitest"}}}"#
        }
        return .script("""
        #!/bin/sh
        printf '%s\\n' "$*" >> '$LOG'
        last=""; for a in "$@"; do last="$a"; done
        case "$1 $2" in
          "version "*) echo 20.10.24; exit 0 ;;
          "container inspect") echo '[\(container("bgctlclitest-blue")),\(container("bgctlclitest-green"))]'; exit 0 ;;
          "image inspect")
            case " \(missing.joined(separator: " ")) " in *" $last "*) echo "Error: No such image: $last" >&2; exit 1 ;; esac
            echo "sha256:abc 1000000"; exit 0 ;;
          "image rm")
            case " \(refuse.joined(separator: " ")) " in *" $3 "*)
              echo "Error response from daemon: conflict: unable to remove repository reference \\"$3\\" (must force) - container 0a1b is using its referenced image 9f8e" >&2; exit 1 ;;
            esac
            echo "Untagged: $3"; echo "Deleted: sha256:abc"; exit 0 ;;
        esac
        echo "fake docker: unscripted command: $*" >&2
        exit 1

        """)
    }

    // MARK: rollback --to

    @Test func aReleaseWhoseImageIsGoneExits9SayingWhatToDoAndTouchesNothing() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try writeHistory(sandbox, releases: 3)
        try sandbox.installFakeDocker(Self.engine(missing: ["shop:2"]))
        let before = try FileManager.default.contentsOfDirectory(atPath: sandbox.stateDirectory).sorted()
        let outcome = try sandbox.run(["rollback", "--to", "v2"])
        #expect(outcome.status == 9, "\(outcome)")
        #expect(outcome.stderr.contains("release v2 used image shop:2, which is no longer on this host; pull or rebuild it, then run bgctl deploy --image shop:2 --release v2"), "\(outcome)")
        #expect(sandbox.dockerCalls().filter(DryRunTests.mutates).isEmpty, "\(sandbox.dockerCalls())")
        #expect(try FileManager.default.contentsOfDirectory(atPath: sandbox.stateDirectory).sorted() == before)
        expectOwnMessage(outcome)
    }

    @Test func theSameWithJSONIsAnErrorObjectWithStatus9() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try writeHistory(sandbox, releases: 3)
        try sandbox.installFakeDocker(Self.engine(missing: ["shop:2"]))
        let outcome = try sandbox.run(["rollback", "--to", "v2", "--json"])
        #expect(outcome.status == 9, "\(outcome)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        #expect(object["command"] as? String == "rollback" && object["ok"] as? Bool == false)
        #expect((object["error"] as? [String: Any])?["status"] as? Int == 9)
    }

    @Test func anUnknownReleaseExits64ListingTheLastKnownOnes() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try writeHistory(sandbox, releases: 7)
        try sandbox.installFakeDocker(Self.engine())
        let outcome = try sandbox.run(["rollback", "--to", "v42"])
        #expect(outcome.status == 64, "\(outcome)")
        #expect(outcome.stderr.contains("release v42 is not in bgctl's history and runs on no pool; the last known: v7, v6, v5, v4, v3"), "\(outcome)")
        #expect(!sandbox.dockerCalls().contains { $0.hasPrefix("image") }, "\(sandbox.dockerCalls())")
        expectOwnMessage(outcome)
    }

    @Test(arguments: [
        (["rollback", "--to", "v1; rm"], "--to: letters, digits"),
        (["rollback", "--to", "v1", "--force"], "--force skips the health check"),
        (["rollback", "--analyze", "30s"], "--analyze applies to rollback --to RELEASE only"),
        (["rollback", "--to", "v1", "--analyze", "0s"], "'--analyze <DURATION>': must be at least 1s"),
        (["rollback", "--to", "v1", "--analyze", "999ms"], "'--analyze <DURATION>': must be at least 1s"),
        (["rollback", "--to", "v1", "--analyze", "abc"], "'--analyze <DURATION>': expected a duration"),
    ] as [([String], String)])
    func aFlagThatDoesNotFitIsAUsageError(_ arguments: [String], says: String) throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try sandbox.installFakeDocker(Self.engine())
        let outcome = try sandbox.run(arguments)
        #expect(outcome.status == 64, "\(outcome)")
        #expect(outcome.stderr.contains(says), "\(outcome)")
        #expect(sandbox.dockerCalls().filter(DryRunTests.mutates).isEmpty)
    }

    @Test func aReleaseAlreadyLiveExits0WithNothingToDo() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try writeHistory(sandbox, releases: 2)
        try sandbox.installFakeDocker(Self.engine())
        // The minimal spec's blue pool (live) runs release cli-1.
        let outcome = try sandbox.run(["rollback", "--to", "cli-1"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout.contains("cli-1 (bgctl/demo-app:local) is already live on blue; nothing to do"), "\(outcome)")
        #expect(sandbox.dockerCalls().filter(DryRunTests.mutates).isEmpty)
    }

    // MARK: prune

    @Test(arguments: ["--keep=-1", "--keep=10001"])
    func aKeepOutsideItsRangeIsAUsageError(flag: String) throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try sandbox.installFakeDocker(Self.engine())
        let outcome = try sandbox.run(["prune", flag])
        #expect(outcome.status == 64, "\(outcome)")
        #expect(outcome.stderr.contains("--keep: expected a number of releases from 0 to 10000"), "\(outcome)")
        #expect(sandbox.dockerCalls().isEmpty)
    }

    @Test func pruneRemovesTheOldReleasesImagesAndSaysWhatWasFreed() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try writeHistory(sandbox, releases: 5)
        try sandbox.installFakeDocker(Self.engine(missing: ["shop:1"]))
        let outcome = try sandbox.run(["prune", "--keep", "3"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout.contains("removed shop:2 (1.0 MB)"), "\(outcome)")
        #expect(outcome.stdout.contains("prune: 1 image(s) removed, 0 refused; up to 1.0 MB freed"), "\(outcome)")
        #expect(sandbox.dockerCalls().filter { $0.hasPrefix("image rm") } == ["image rm shop:2"])
        let history = try sandbox.run(["history", "--json"])
        #expect(history.stdout.split(separator: "\n").last?.contains(#""action":"prune""#) == true, "\(history)")
    }

    @Test func aRefusalIsReportedAndThePruneStillExits0() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try writeHistory(sandbox, releases: 4)
        try sandbox.installFakeDocker(Self.engine(refuse: ["shop:1"]))
        let outcome = try sandbox.run(["prune", "--keep", "2", "--json"])
        #expect(outcome.status == 0, "\(outcome)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any], "\(outcome)")
        #expect(object["command"] as? String == "prune" && object["ok"] as? Bool == true && object["keep"] as? Int == 2)
        let removals = try #require(object["removals"] as? [[String: Any]])
        #expect(removals.map { $0["image"] as? String } == ["shop:1", "shop:2"])
        #expect(removals.map { $0["result"] as? String } == ["refused", "removed"])
        #expect((removals[0]["detail"] as? String)?.contains("container 0a1b is using its referenced image") == true)
        #expect(object["freed_bytes"] as? Int == 1_000_000)
        #expect((object["kept"] as? [[String: Any]])?.compactMap { $0["release"] as? String } == ["v4", "v3"])
    }

    @Test func nothingToRemoveExits0() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try writeHistory(sandbox, releases: 2)
        try sandbox.installFakeDocker(Self.engine())
        let outcome = try sandbox.run(["prune"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout.contains("prune: nothing to remove (no release older than the last 3 has an image to remove)"), "\(outcome)")
        #expect(sandbox.dockerCalls().filter(DryRunTests.mutates).isEmpty)
    }

    @Test func aDryRunListsTheRemovalsAndRemovesNothing() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try writeHistory(sandbox, releases: 5)
        try sandbox.installFakeDocker(Self.engine())
        let outcome = try sandbox.run(["prune", "--dry-run"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdout.contains("prune (keep 3): 2 steps"), "\(outcome)")
        #expect(outcome.stdout.contains("docker image rm shop:1") && outcome.stdout.contains("docker image rm shop:2"), "\(outcome)")
        #expect(sandbox.dockerCalls().filter(DryRunTests.mutates).isEmpty, "\(sandbox.dockerCalls())")
        #expect(!FileManager.default.fileExists(atPath: sandbox.stateDirectory + "/lock"))
    }
}
