import Foundation
import NginxConfigGen
import Testing
@testable import Orchestrator
import Watcher

/// The fleet's agreement on one host (nginx/fleet/, the proxy's /bgctl/conf/fleet/), on real files in a
/// temp state folder, with every change the port sees recorded in order.
@Suite struct FleetAgreementTests {
    let stateDir = Fixture.tempDir()
    let files = RecordingFiles()
    let stack: Stack

    init() throws {
        var stack = try Fixture.stack(runner: ScriptedRunner(), http: ScriptedHTTP(), stateDir: stateDir)
        stack.ports.files = files
        self.stack = stack
    }

    func entries() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: stack.paths.fleetDir)) ?? []).sorted() }

    func inode(_ name: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: stack.paths.fleetDir + "/" + name)[.systemFileNumber] as? Int)
    }

    @Test func theFolderIsInTheProxysConfigurationFolderBesideTheRoute() {
        #expect(stack.paths.fleetDir == stateDir + "/nginx/fleet")
        #expect(stack.paths.fleetDir == stack.paths.nginxDir + "/" + FleetAgreement.folder
                && stack.paths.routeDir == stack.paths.nginxDir + "/route")
        #expect(FleetAgreement.mount == Route.mount.replacingOccurrences(of: "/route", with: "/fleet"),
                "the proxy sees it where it sees the route, through the one configuration mount")
    }

    @Test func noFolderIsNoAgreement() {
        #expect(stack.fleetAgreement() == nil)
    }

    @Test(arguments: [Set<Pool>([.blue]), [.green], [.blue, .green]])
    func anAgreementReadsBackAsOneEmptyFilePerPool(_ pools: Set<Pool>) throws {
        try stack.agreeFleet(pools)
        #expect(stack.fleetAgreement() == pools)
        #expect(entries() == pools.sorted().map { "agreed-\($0.rawValue)" })
        for name in entries() {
            #expect(try FileManager.default.attributesOfItem(atPath: stack.paths.fleetDir + "/" + name)[.size] as? Int == 0)
        }
    }

    @Test func anEmptyAgreementIsAFolderWithNoPoolNotNone() throws {
        try stack.agreeFleet([.blue])
        try stack.agreeFleet([])
        #expect(stack.fleetAgreement() == [])
        #expect(entries().isEmpty)
    }

    @Test func movingTheAgreementWritesTheNewPoolsFileBeforeRemovingTheOld() throws {
        try stack.agreeFleet([.blue])
        files.changes.removeAll()
        try stack.agreeFleet([.green])
        #expect(files.changes == ["create agreed-green", "remove agreed-blue"])
        #expect(stack.fleetAgreement() == [.green])
    }

    @Test func aPoolInTheAgreementBeforeAndAfterIsNeverRewrittenNorRemoved() throws {
        try stack.agreeFleet([.blue])
        let before = try inode("agreed-blue")
        files.changes.removeAll()
        try stack.agreeFleet([.blue, .green])
        #expect(files.changes == ["create agreed-green"])
        files.changes.removeAll()
        try stack.agreeFleet([.blue])
        #expect(files.changes == ["remove agreed-green"])
        #expect(try inode("agreed-blue") == before)
    }

    @Test func theSameAgreementAgainChangesNothing() throws {
        try stack.agreeFleet([.green])
        files.changes.removeAll()
        try stack.agreeFleet([.green])
        #expect(files.changes.isEmpty)
    }

    @Test func entriesThatAreNoPoolsFileAreIgnoredAndLeft() throws {
        try stack.agreeFleet([.blue])
        try Data().write(to: URL(fileURLWithPath: stack.paths.fleetDir + "/agreed-purple"))
        try Data().write(to: URL(fileURLWithPath: stack.paths.fleetDir + "/blue"))
        #expect(stack.fleetAgreement() == [.blue])
        try stack.agreeFleet([.green])
        #expect(entries() == ["agreed-green", "agreed-purple", "blue"])
    }

    @Test func aLinkInPlaceOfTheFolderIsRefusedBeforeAnOperationWrites() throws {
        let outside = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(atPath: outside) }
        try FileManager.default.createDirectory(atPath: stack.paths.nginxDir, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: stack.paths.fleetDir, withDestinationPath: outside)
        #expect(throws: OrchestratorError.self) { try stack.paths.checkFolder() }
    }
}

/// `status` on a fleet's host: the agreement as the proxy reads it, and a problem when the pool the
/// host serves is not in it.
@Suite struct FleetAgreementStatusTests {
    let stateDir = Fixture.tempDir()
    let runner = ScriptedRunner()
    let http = ScriptedHTTP()

    func stack(fleetHost: Bool = true, live: Pool) throws -> Stack {
        var stack = try Fixture.stack(runner: runner, http: http, stateDir: stateDir)
        if fleetHost { stack.spec.fleetMember = FleetMember(host: "web1", healthPath: "/_bgctl/fleet") }
        try stack.writeLive(Route(live: live))
        runner.strict = false
        runner.on(["version"], CommandResult(status: 0, stdout: "20.10.24\n"))
        runner.on(["container", "inspect"], CommandResult(status: 0, stdout: ExecutorTests.allRunning))
        http.on(":8081/healthz", ScriptedHTTP.ok())
        http.on(":8082/healthz", ScriptedHTTP.ok())
        http.on(":8080/_bgctl/health", ScriptedHTTP.ok())
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: live.rawValue))
        return stack
    }

    func fleetProblems(_ status: StackStatus) -> [String] { status.problems.filter { $0.contains("fleet") } }

    @Test func aHostServingAnAgreedPoolShowsTheAgreementAndNoProblem() throws {
        let stack = try stack(live: .blue)
        try stack.agreeFleet([.blue])
        let status = try stack.status()
        #expect(status.fleetAgreed == [.blue])
        #expect(fleetProblems(status).isEmpty, "\(status.problems)")
    }

    @Test func aHostServingAPoolTheFleetDidNotAgreeOnSaysTheBalancerDrainsIt() throws {
        let stack = try stack(live: .green)
        try stack.agreeFleet([.blue])
        let status = try stack.status()
        #expect(status.fleetAgreed == [.blue])
        #expect(fleetProblems(status) == ["this host serves green, but the fleet agreed on blue: its fleet health path /_bgctl/fleet answers 503, so the load balancer drains it"])
        #expect(status.overall == "degraded")
    }

    @Test func aHostTheFleetTookOutSaysSo() throws {
        let stack = try stack(live: .blue)
        try stack.agreeFleet([])
        let status = try stack.status()
        #expect(status.fleetAgreed == [])
        #expect(fleetProblems(status) == ["this host serves blue, but the fleet agreed on no pool (this host is out): its fleet health path /_bgctl/fleet answers 503, so the load balancer drains it"])
    }

    @Test func bothPoolsAgreedDuringAMoveIsNoProblem() throws {
        let stack = try stack(live: .green)
        try stack.agreeFleet([.blue, .green])
        let status = try stack.status()
        #expect(status.fleetAgreed == [.blue, .green] && fleetProblems(status).isEmpty)
    }

    @Test func aHostWithNoAgreementYetHasNone() throws {
        let status = try stack(live: .blue).status()
        #expect(status.fleetAgreed == nil && fleetProblems(status).isEmpty)
    }

    @Test func aStackOnItsOwnDoesNotReadAFolderLeftThere() throws {
        let stack = try stack(fleetHost: false, live: .green)
        try stack.agreeFleet([.blue])
        let status = try stack.status()
        #expect(status.fleetAgreed == nil && fleetProblems(status).isEmpty)
    }

    @Test func theAgreementIsInTheJSONAsASortedListOfPools() throws {
        let stack = try stack(live: .blue)
        try stack.agreeFleet([.green, .blue])
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(try stack.status())) as? [String: Any]
        #expect(object?["fleet_agreed"] as? [String] == ["blue", "green"])
    }
}

/// The host's files, with every change recorded as "verb name" in order.
final class RecordingFiles: FileSystem, @unchecked Sendable {
    private let local = LocalFileSystem()
    private let lock = NSLock()
    private var recorded: [String] = []
    var changes: [String] {
        get { lock.withLock { recorded } }
        set { lock.withLock { recorded = newValue } }
    }

    private func record(_ verb: String, _ path: String) {
        lock.withLock { recorded.append("\(verb) \((path as NSString).lastPathComponent)") }
    }

    func read(_ path: String) -> Data? { local.read(path) }
    func read(_ path: String, limit: Int) throws -> Data? { try local.read(path, limit: limit) }
    func exists(_ path: String) -> Bool { local.exists(path) }
    func write(_ contents: String, to path: String, mode: mode_t) throws {
        record("write", path)
        try local.write(contents, to: path, mode: mode)
    }
    func rename(_ source: String, to destination: String) throws {
        record("rename", destination)
        try local.rename(source, to: destination)
    }
    func remove(_ path: String) throws {
        record("remove", path)
        try local.remove(path)
    }
    func createDirectory(_ path: String) throws { try local.createDirectory(path) }
    func list(_ path: String) -> [String]? { local.list(path) }
    func append(_ data: Data, to path: String) throws {
        record("append", path)
        try local.append(data, to: path)
    }
    func createEmptyFiles(_ names: [String], in folder: String) throws {
        for name in names { record("create", name) }
        try local.createEmptyFiles(names, in: folder)
    }
    func replaceLink(_ path: String, target: String) throws {
        record("link", path)
        try local.replaceLink(path, target: target)
    }
    func readLink(_ path: String) -> String? { local.readLink(path) }
    func size(of path: String) -> Int64? { local.size(of: path) }
    func withExclusiveLock(_ path: String, _ body: () throws -> Void) throws -> Bool { try local.withExclusiveLock(path, body) }
}
