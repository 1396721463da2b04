import Foundation
import Testing
import HTTPClient
import NginxConfigGen
@testable import Orchestrator

/// `prune` and `rollback --to` against a strict scripted docker: every command they run is expected.
@Suite struct ReleaseOperationTests {
    let runner = ScriptedRunner()
    let http = ScriptedHTTP()
    let stateDir = Fixture.tempDir()

    init() {
        runner.on(["version"], CommandResult(status: 0, stdout: "20.10.24\n"))
    }

    /// The stack as bgctl runs it: the spec with the releases state.json records applied.
    /// `deployed`: pool → release number deployed there (image shop:N, label vN).
    func stack(history: [HistoryEntry], live: Pool = .blue, deployed: [Pool: Int] = [:]) throws -> Stack {
        var stack = try Fixture.stack(runner: runner, http: http, stateDir: stateDir)
        let releases = Dictionary(uniqueKeysWithValues: deployed.map {
            ($0.key.rawValue, DeployedRelease(image: "shop:\($0.value)", release: "v\($0.value)", env: [:], at: "t"))
        })
        let state = StackState(project: "shop", live: live, updatedAt: "t", lastSwitch: nil, deployed: releases.isEmpty ? nil : releases)
        try stack.store.save(state)
        stack.spec = state.apply(to: stack.spec)
        for entry in history { try stack.store.append(entry) }
        return stack
    }

    /// blue runs shop:1 (live), green runs shop:2; the proxy runs.
    func containers(blue: String = "shop:1", green: String = "shop:2") {
        // inspectJSON gives every container shop:1; set each pool's image.
        let json = Fixture.inspectJSON([("shop-blue", "running", "healthy"), ("shop-green", "running", "healthy"), ("shop-proxy", "running", nil)])
        let objects = json.components(separatedBy: "\"Config\":{\"Image\":\"shop:1\"")
        var text = objects[0]
        for (index, image) in [blue, green, "bgctl/nginx:local"].enumerated() {
            text += "\"Config\":{\"Image\":\"\(image)\"" + objects[index + 1]
        }
        runner.on(["container", "inspect"], CommandResult(status: 0, stdout: text))
    }

    static let history = (1...6).map { deployed("v\($0)", "shop:\($0)", at: "2026-11-2\($0)T10:00:00Z") }

    // MARK: prune

    @Test func pruneRemovesTheOldImagesOnTheHostAndRecordsIt() throws {
        containers(blue: "shop:6", green: "shop:5")
        runner.on(["image", "inspect", "--format", "{{.Id}} {{.Size}}", "shop:1"], CommandResult(status: 0, stdout: "sha256:a1 1000000\n"))
        runner.on(["image", "inspect", "--format", "{{.Id}} {{.Size}}", "shop:2"], CommandResult(status: 1, stderr: "Error: No such image: shop:2\n"))
        runner.on(["image", "inspect", "--format", "{{.Id}} {{.Size}}", "shop:3"], CommandResult(status: 0, stdout: "sha256:a3 3000000\n"))
        runner.on(["image", "rm", "shop:1"], CommandResult(status: 0, stdout: "Untagged: shop:1\nDeleted: sha256:a1\n"))
        runner.on(["image", "rm", "shop:3"], CommandResult(status: 0, stdout: "Untagged: shop:3\nDeleted: sha256:a3\n"))
        let stack = try stack(history: Self.history, deployed: [.blue: 6, .green: 5])
        let outcome = try stack.prune(keep: 3, lockWait: 1)
        #expect(outcome.removals.map(\.image) == ["shop:1", "shop:3"])
        #expect(outcome.removals.allSatisfy { $0.result == .removed })
        #expect(outcome.absent == ["shop:2"])
        #expect(outcome.freed == 4_000_000)
        #expect(runner.calls(startingWith: ["image", "rm"]) == [["image", "rm", "shop:1"], ["image", "rm", "shop:3"]])
        #expect(runner.unscripted.isEmpty)
        let last = try #require(stack.store.history().last)
        #expect(last.action == "prune" && last.result == "ok" && last.detail == "removed shop:1, shop:3" && last.image == nil)
        #expect(!FileManager.default.fileExists(atPath: stack.paths.lockFile + ".held"), "the lock is released")
    }

    @Test func aRefusedImageIsReportedAndThePruneGoesOn() throws {
        containers(blue: "shop:6", green: "shop:5")
        for image in ["shop:1", "shop:2"] {
            runner.on(["image", "inspect", "--format", "{{.Id}} {{.Size}}", image], CommandResult(status: 0, stdout: "sha256:x 10\n"))
        }
        runner.on(["image", "rm", "shop:1"], CommandResult(status: 1, stderr: "Error response from daemon: conflict: unable to remove repository reference \"shop:1\" (must force) - container 0a1b is using its referenced image 9f8e\n"))
        runner.on(["image", "rm", "shop:2"], CommandResult(status: 0, stdout: "Untagged: shop:2\nDeleted: sha256:x\n"))
        let stack = try stack(history: Self.history, deployed: [.blue: 6, .green: 5])
        let events = Warnings()
        let reporting = Stack(spec: stack.spec, paths: stack.paths, ports: stack.ports, renderer: stack.renderer, environment: stack.environment) { event in
            if case .warning(let text) = event { events.add(text) }
        }
        let outcome = try reporting.prune(keep: 4, lockWait: 1)
        #expect(outcome.removals.map(\.result) == [.refused, .removed])
        #expect(events.all.contains { $0.contains("docker would not remove shop:1") && $0.contains("container 0a1b") })
        #expect(try #require(stack.store.history().last).result == "partial")
    }

    @Test func theImagesThePoolsAreSetToRunStayEvenWhenTheirContainersAreGone() throws {
        runner.on(["container", "inspect"], CommandResult(status: 0, stdout: "[]"))
        for n in 1...4 {
            runner.on(["image", "inspect", "--format", "{{.Id}} {{.Size}}", "shop:\(n)"], CommandResult(status: 0, stdout: "sha256:x \(n)\n"))
            runner.on(["image", "rm", "shop:\(n)"], CommandResult(status: 0, stdout: "Deleted: sha256:x\n"))
        }
        let outcome = try stack(history: Self.history, deployed: [.blue: 6, .green: 5]).prune(keep: 0, lockWait: 1)
        #expect(outcome.removals.map(\.image) == ["shop:1", "shop:2", "shop:3", "shop:4"])
        #expect(outcome.selection.kept.map(\.release) == ["v6", "v5"])
        #expect(runner.unscripted.isEmpty)
    }

    @Test func theImagesThePoolsContainersRunAreNeverRemovedWhateverTheirAge() throws {
        // The containers still run the two oldest releases (state.json says 6 and 5): keep 0 leaves all four.
        containers(blue: "shop:1", green: "shop:2")
        for n in 3...4 {
            runner.on(["image", "inspect", "--format", "{{.Id}} {{.Size}}", "shop:\(n)"], CommandResult(status: 0, stdout: "sha256:x \(n)\n"))
            runner.on(["image", "rm", "shop:\(n)"], CommandResult(status: 0, stdout: "Deleted: sha256:x\n"))
        }
        let outcome = try stack(history: Self.history, deployed: [.blue: 6, .green: 5]).prune(keep: 0, lockWait: 1)
        #expect(outcome.removals.map(\.image) == ["shop:3", "shop:4"])
        #expect(outcome.selection.kept.contains(PrunePlanner.Kept(release: "v1", image: "shop:1", reason: "the image of the live pool's container (blue)")))
        #expect(outcome.selection.kept.contains(PrunePlanner.Kept(release: "v2", image: "shop:2", reason: "the image of the idle pool's container (green)")))
        #expect(runner.calls(startingWith: ["image", "inspect"]).allSatisfy { !$0.contains("shop:1") && !$0.contains("shop:2") })
        #expect(runner.unscripted.isEmpty)
    }

    @Test func anEmptyHistoryRemovesNothingAndRecordsNothing() throws {
        containers()
        let stack = try stack(history: [])
        let outcome = try stack.prune(keep: 3, lockWait: 1)
        #expect(outcome.plan.isEmpty && outcome.removals.isEmpty)
        #expect(stack.store.history().isEmpty)
        #expect(runner.unscripted.isEmpty)
    }

    @Test func aDryRunInspectsButRemovesNothing() throws {
        containers(blue: "shop:6", green: "shop:5")
        runner.on(["image", "inspect"], CommandResult(status: 0, stdout: "sha256:x 5\n"))
        var stack = try stack(history: Self.history, deployed: [.blue: 6, .green: 5])
        let plans = PlanBox()
        stack.dryRun = { plan in plans.add(plan) }
        let outcome = try stack.prune(keep: 3, lockWait: 1)
        #expect(plans.plans.first?.names == ["remove-image", "remove-image", "remove-image"])
        #expect(outcome.removals.isEmpty)
        #expect(runner.calls(startingWith: ["image", "rm"]).isEmpty)
        #expect(stack.store.history().count == Self.history.count)
    }

    // MARK: rollback --to

    @Test func aReleaseWhoseImageIsGoneTouchesNothing() throws {
        runner.on(["image", "inspect"], CommandResult(status: 1, stderr: "Error: No such image: shop:2\n"))
        let stack = try stack(history: Self.history)
        let before = try FileManager.default.contentsOfDirectory(atPath: stateDir).sorted()
        #expect(throws: OrchestratorError.releaseImageGone(release: "v2", image: "shop:2")) {
            try stack.rollback(to: "v2", reason: nil, analyze: nil, lockWait: 1)
        }
        #expect(runner.calls.map { $0.prefix(2).joined(separator: " ") } == ["version --format", "image inspect"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: stateDir).sorted() == before, "no lock, journal or state written")
        #expect(OrchestratorError.releaseImageGone(release: "v2", image: "shop:2").description
                == "release v2 used image shop:2, which is no longer on this host; pull or rebuild it, then run bgctl deploy --image shop:2 --release v2. Nothing was changed.")
    }

    @Test func anUnknownReleaseNamesTheLastKnownOnes() throws {
        let stack = try stack(history: Self.history)
        #expect(throws: OrchestratorError.releaseUnknown(release: "v9", known: ["v6", "v5", "v4", "v3", "v2"])) {
            try stack.rollback(to: "v9", reason: nil, analyze: nil, lockWait: 1)
        }
        #expect(runner.calls(startingWith: ["image"]).isEmpty)
    }

    @Test func aReleaseAlreadyLiveIsNothingToDo() throws {
        runner.on(["image", "inspect"], CommandResult(status: 0, stdout: "sha256:x 5\n"))
        // The fixture's blue (live) pool runs v1 from shop:1.
        let outcome = try stack(history: Self.history).rollback(to: "v1", reason: nil, analyze: nil, lockWait: 1)
        guard case .alreadyLive(let pool, let known) = outcome else { Issue.record("expected already live, got \(outcome)"); return }
        #expect(pool == .blue && known.image == "shop:1")
        #expect(runner.calls(startingWith: ["run"]).isEmpty)
    }

    @Test func aKnownReleaseGoesThroughTheDeployWithItsImageAndLabel() throws {
        containers(blue: "shop:1", green: "shop:2")
        runner.on(["image", "inspect"], CommandResult(status: 0, stdout: "sha256:x 5\n"))
        var stack = try stack(history: Self.history)
        let plans = PlanBox()
        stack.dryRun = { plan in plans.add(plan) }
        let outcome = try stack.rollback(to: "v4", reason: "bad v6", analyze: 30, lockWait: 1)
        guard case .deployed(let deploy, let known) = outcome else { Issue.record("expected a deploy, got \(outcome)"); return }
        #expect(known == KnownRelease(release: "v4", image: "shop:4", at: "2026-11-24T10:00:00Z"))
        #expect(deploy.result == .planned && deploy.image == "shop:4" && deploy.release == "v4" && deploy.target == .green)
        let staging = try #require(plans.plans.first)
        let run = staging.steps.compactMap { step -> ContainerConfig? in
            if case .runContainer(let config) = step.action { return config }
            return nil
        }
        #expect(run.map(\.image) == ["shop:4"] && run.first?.labels["io.bgctl.release"] == "v4")
        #expect(plans.plans.last?.names.last == "analyse")
        #expect(runner.calls(startingWith: ["run"]).isEmpty, "a dry run")
    }
}

/// Warnings an operation reported, collected across threads.
final class Warnings: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func add(_ text: String) { lock.withLock { stored.append(text) } }
    var all: [String] { lock.withLock { stored } }
}
