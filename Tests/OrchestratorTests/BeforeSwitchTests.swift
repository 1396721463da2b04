import Foundation
import Testing
import NginxConfigGen
@testable import Orchestrator

/// A `docker exec` a test scripts: each call ends as the next scripted end, and every call and
/// leftover stop is recorded.
final class ScriptedExec: ContainerExecuting, @unchecked Sendable {
    struct Call: Equatable {
        var argv: [String]
        var container: String
        var timeout: Double
    }

    private let lock = NSLock()
    private var ends: [HookOutcome.End]
    private(set) var calls: [Call] = []
    private(set) var leftovers: [Call] = []
    /// Runs as each call starts (e.g. to look at the journal or raise a signal).
    var onRun: (() -> Void)?
    var lines: [String] = []

    init(_ ends: HookOutcome.End...) { self.ends = ends }

    func run(_ argv: [String], in container: String, timeout: Double, cancelled: @escaping @Sendable () -> Bool,
             line: (String) -> Void) -> ContainerExecOutcome {
        onRun?()
        let end: HookOutcome.End = lock.withLock {
            calls.append(Call(argv: argv, container: container, timeout: timeout))
            return ends.isEmpty ? .exited(0) : ends.removeFirst()
        }
        lines.forEach(line)
        var stopped: String? = "stopped inside \(container)"
        if case .exited = end { stopped = nil }
        return ContainerExecOutcome(run: HookOutcome(end: end, tail: lines, seconds: 0.1), stoppedInside: stopped)
    }

    func stopLeftovers(_ argv: [String], in container: String) -> String? {
        lock.withLock { leftovers.append(Call(argv: argv, container: container, timeout: 0)) }
        return "stopped inside \(container)"
    }
}

/// deploy.before_switch: the commands run inside the new release once it is healthy and before any
/// traffic moves; whatever stops them leaves the live pool untouched.
@Suite struct BeforeSwitchTests {
    let runner = ScriptedRunner()
    let http = ScriptedHTTP()
    let stateDir = Fixture.tempDir()
    static let migrate = ["/app/migrate", "--up"]
    static let warm = ["/app/warm-cache"]

    init() { scriptDeployOnRunningStack(runner, http) }

    func stack(_ exec: ScriptedExec, commands: [[String]] = [migrate, warm]) throws -> Stack {
        var stack = try Fixture.stack(runner: runner, http: http, stateDir: stateDir)
        stack.spec.deploy.beforeSwitch = commands
        stack.ports.exec = exec
        let log = ScriptedLog()
        log.figures = AnalysisFigures(requests: 100, errors: 0)
        stack.ports.accessLog = { _ in log }
        try stack.writeLive(Route(live: .blue))
        try stack.store.save(StackState(project: "shop", live: .blue, updatedAt: "t", lastSwitch: nil))
        return stack
    }

    func request(noSwitch: Bool = false, canary: [Int]? = nil) -> DeployRequest {
        var request = DeployRequest(image: "shop:3")
        request.analyze = 1
        request.noSwitch = noSwitch
        request.canary = canary
        if canary != nil { request.step = 1 }
        return request
    }

    func reloads() -> Int { runner.calls(startingWith: ["kill", "--signal", "HUP"]).count }

    @Test func theCommandsRunInOrderInTheNewReleasesContainerAfterItsHealthAndBeforeTheSwitch() throws {
        let exec = ScriptedExec()
        let stack = try stack(exec)
        let spy = JournalSpy(path: stack.paths.journalFile)
        exec.onRun = { spy.look() }
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        let outcome = try stack.deploy(request(), lockWait: 1)
        #expect(outcome.result == .promoted, "\(outcome.reason)")
        #expect(exec.calls.map(\.argv) == [Self.migrate, Self.warm])
        #expect(exec.calls.allSatisfy { $0.container == "shop-green" })
        #expect(exec.calls[0].timeout == 600, "deploy.before_switch_timeout's default, all of it left for the first")
        let seen = try #require(spy.entries.first)
        #expect(seen.current == "before_switch/before-switch")
        #expect(seen.done.contains("stage/record-release") && !seen.done.contains { $0.hasPrefix("switch/") },
                "healthy and recorded, and no traffic moved yet")
    }

    @Test func aCommandThatFailsStopsTheDeployWithTheLivePoolUntouchedAndItsLastLinesInTheHistory() throws {
        let exec = ScriptedExec(.exited(3))
        exec.lines = ["applying 0042_orders", "ERROR: relation \"orders\" already exists"]
        let stack = try stack(exec)
        let outcome = try stack.deploy(request(), lockWait: 1)
        #expect(outcome.result == .beforeSwitchFailed)
        #expect(outcome.reason == "before_switch /app/migrate --up exited 3; not switched: blue is still live and untouched")
        #expect(exec.calls.map(\.argv) == [Self.migrate], "the next command never starts")
        #expect(stack.readRoute() == .route(Route(live: .blue)) && reloads() == 0)
        #expect(try stack.store.load()?.live == .blue)
        let last = try #require(stack.store.history().last)
        #expect(last.action == "deploy" && last.result == "before_switch_failed" && last.release == "3")
        #expect(last.detail == outcome.reason + "\napplying 0042_orders\nERROR: relation \"orders\" already exists")
        #expect(stack.journal.read() == nil)
    }

    @Test func aCommandPastTheTimeoutIsAFailureNamingTheBound() throws {
        let exec = ScriptedExec(.timedOut)
        var stack = try stack(exec)
        stack.spec.deploy.beforeSwitchTimeout = .seconds(2)
        let outcome = try stack.deploy(request(), lockWait: 1)
        #expect(outcome.result == .beforeSwitchFailed)
        #expect(outcome.reason.hasPrefix("before_switch /app/migrate --up ran past deploy.before_switch_timeout (2 s) and was stopped"), "\(outcome.reason)")
        #expect(exec.calls.first?.timeout == 2)
        #expect(try stack.store.load()?.live == .blue && stack.readRoute() == .route(Route(live: .blue)))
    }

    @Test func aSignalDuringACommandAbortsWithTheLivePoolUntouched() throws {
        let exec = ScriptedExec(.stopped)
        let stack = try stack(exec)
        let outcome = try stack.deploy(request(), lockWait: 1)
        #expect(outcome.result == .aborted)
        #expect(outcome.reason == "stopped by a signal at before-switch; not switched: blue is still live and untouched")
        #expect(exec.calls.count == 1 && reloads() == 0)
        #expect(try stack.store.load()?.live == .blue && stack.readRoute() == .route(Route(live: .blue)))
        #expect(stack.store.history().last?.result == "aborted")
    }

    @Test func aFailingCommandBeforeACanaryGivesTheCanaryNoTraffic() throws {
        let exec = ScriptedExec(.exited(1))
        let stack = try stack(exec)
        let outcome = try stack.deploy(request(canary: [5, 50]), lockWait: 1)
        #expect(outcome.result == .beforeSwitchFailed)
        #expect(outcome.steps.isEmpty)
        #expect(stack.readRoute() == .route(Route(live: .blue)))
        let folders = Set(try FileManager.default.contentsOfDirectory(atPath: stack.paths.routeDir)).subtracting([Route.currentLink])
        #expect(folders == ["blue"], "no canary route was ever written")
    }

    @Test func aStagedReleaseRunsItsCommandsToo() throws {
        let exec = ScriptedExec()
        let stack = try stack(exec)
        let outcome = try stack.deploy(request(noSwitch: true), lockWait: 1)
        #expect(outcome.result == .staged)
        #expect(exec.calls.map(\.argv) == [Self.migrate, Self.warm])
    }

    @Test func noCommandsRunsNoExec() throws {
        let exec = ScriptedExec()
        let stack = try stack(exec, commands: [])
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        _ = try stack.deploy(request(), lockWait: 1)
        #expect(exec.calls.isEmpty)
    }

    @Test func theTimeoutIsSharedByTheCommands() throws {
        let clock = FakeClock()
        let exec = ScriptedExec(.exited(0), .exited(0))
        var stack = try stack(exec)
        stack.ports.clock = clock.clock
        stack.spec.deploy.beforeSwitchTimeout = .seconds(10)
        // The first command takes 4 s of the 10.
        exec.onRun = { if exec.calls.isEmpty { clock.clock.sleep(4) } }
        http.on(":8080/healthz", ScriptedHTTP.ok(pool: "green"))
        _ = try stack.deploy(request(noSwitch: true), lockWait: 1)
        #expect(exec.calls.map(\.timeout) == [10, 6])
    }

    @Test func aDryRunListsTheCommandsAndRunsNone() throws {
        let exec = ScriptedExec()
        var stack = try stack(exec)
        let plans = PlanBox()
        stack.dryRun = { plans.add($0) }
        _ = try stack.deploy(request(), lockWait: 1)
        #expect(exec.calls.isEmpty)
        let plan = try #require(plans.plans.first { $0.title == "before_switch in green" })
        #expect(plan.steps.flatMap { $0.action.commands(stack.spec) }.map(\.arguments) == [
            ["exec", "shop-green", "/app/migrate", "--up"], ["exec", "shop-green", "/app/warm-cache"],
        ])
    }

    @Test func aDeployKilledDuringACommandHasItStoppedInsideTheContainerByTheNextCommand() throws {
        let exec = ScriptedExec()
        let stack = try stack(exec)
        var entry = JournalEntry(operation: "deploy", title: "deploy shop:3 to green", pid: 999_999, who: "ci", started: "t",
                                 from: .blue, to: .green, image: "shop:3", release: "3")
        entry.done = ["stage/start-green", "stage/record-release"]
        entry.current = "before_switch/before-switch"
        try stack.journal.write(entry)
        let recovery = try #require(try stack.recover(lockWait: 1))
        #expect(recovery.outcome == "stopped before the switch: blue was never touched")
        #expect(exec.leftovers == [.init(argv: Self.migrate, container: "shop-green", timeout: 0), .init(argv: Self.warm, container: "shop-green", timeout: 0)])
        #expect(try stack.store.load()?.live == .blue && stack.journal.read() == nil)
    }

    @Test func aDeployKilledElsewhereStopsNothingInTheContainer() throws {
        let exec = ScriptedExec()
        let stack = try stack(exec)
        var entry = JournalEntry(operation: "deploy", title: "deploy shop:3 to green", pid: 999_999, who: "ci", started: "t",
                                 from: .blue, to: .green, image: "shop:3", release: "3")
        entry.current = "stage/start-green"
        try stack.journal.write(entry)
        _ = try stack.recover(lockWait: 1)
        #expect(exec.leftovers.isEmpty)
    }
}

/// The parts of stopping a command inside a container that need no engine.
@Suite struct ContainerExecPartsTests {
    @Test func theParentIsReadAfterTheCommandsLastParenthesis() {
        #expect(ProcessTree.parentPID(stat: "4242 (demo) app) S 17 4242 4242 0 -1") == 17)
        #expect(ProcessTree.parentPID(stat: "1 (init) S 0 1 1") == 0)
        #expect(ProcessTree.parentPID(stat: "garbage") == nil)
        #expect(ProcessTree.state(stat: "4242 (a) Z) Z 17 4242") == "Z")
        #expect(ProcessTree.state(stat: "4242 (sleep) S 17 4242") == "S")
        let stat = "4242 (a) b) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10"
        #expect(ProcessTree.startTime(stat: stat) == 987_654)
        #expect(ProcessTree.startTime(stat: "4242 (a) S 17") == nil)
        #expect(ProcessTree.startTime(Int(getpid())) != nil && ProcessTree.startTime(Int(getpid())) == ProcessTree.startTime(Int(getpid())))
    }

    @Test func thisProcessAndItsChildAreOneTree() throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["5"]
        try child.run()
        defer {
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
        }
        let me = Int(getpid())
        #expect(ProcessTree.withDescendants([me]).contains(Int(child.processIdentifier)))
        #expect(ProcessTree.withDescendants([Int(child.processIdentifier)]) == [Int(child.processIdentifier)])
    }

    @Test func anExecsInspectDocumentGivesItsArgvAndHostPID() {
        let body = #"{"ID":"abc","Running":true,"ExitCode":null,"ProcessConfig":{"tty":false,"entrypoint":"/demo-app","arguments":["task","--sleep","60"]},"Pid":4242,"ContainerID":"x"}"#
        #expect(ExecProcess.parse(body) == ExecProcess(id: "abc", running: true, pid: 4242, argv: ["/demo-app", "task", "--sleep", "60"]))
        #expect(ExecProcess.parse(#"{"ID":"abc","Running":true}"#) == nil, "no process config: not an exec")
        #expect(ExecProcess.parse("[1,2]") == nil)
    }

    @Test func onlyARunningExecOfExactlyThatCommandIsStopped() {
        let argv = ["/demo-app", "task"]
        let execs = [
            ExecProcess(id: "a", running: true, pid: 10, argv: argv),
            ExecProcess(id: "b", running: false, pid: 11, argv: argv),
            ExecProcess(id: "c", running: true, pid: 12, argv: ["/demo-app", "--healthcheck"]),
            ExecProcess(id: "d", running: true, pid: 13, argv: argv + ["--child"]),
            ExecProcess(id: "e", running: true, pid: 1, argv: argv),
        ]
        #expect(DockerExec.running(execs, argv).map(\.id) == ["a"])
    }

    @Test func anEngineIDIsSixtyFourLowercaseHexDigits() {
        let id = String(repeating: "a1", count: 32)
        #expect(EngineSocket.isHexID(id))
        #expect(!EngineSocket.isHexID(String(id.dropLast())))
        #expect(!EngineSocket.isHexID(id + "0"))
        #expect(!EngineSocket.isHexID(String(id.dropLast()) + "G"))
        #expect(!EngineSocket.isHexID(String(id.dropLast()) + "/"))
    }

    @Test func aContainerNameForTheAPIHasNoPathCharacters() {
        #expect(EngineSocket.isPlainName("shop-green"))
        #expect(!EngineSocket.isPlainName("shop/../x"))
        #expect(!EngineSocket.isPlainName("shop?x"))
        #expect(!EngineSocket.isPlainName(""))
    }

    @Test func aProcessIsInTheContainerOnlyWhenEveryHierarchySaysSo() {
        let id = String(repeating: "ab", count: 32)
        #expect(LocalSignal.inContainer(cgroup: "0::/system.slice/docker-\(id).scope\n", containerID: id))
        #expect(LocalSignal.inContainer(cgroup: "12:pids:/docker/\(id)\n11:cpu:/docker/\(id)\n", containerID: id))
        #expect(!LocalSignal.inContainer(cgroup: "12:pids:/docker/\(id)\n11:cpu:/user.slice\n", containerID: id))
        #expect(!LocalSignal.inContainer(cgroup: "0::/user.slice/session-1.scope\n", containerID: id))
    }
}
