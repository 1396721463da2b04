import Foundation
import Testing
import NginxConfigGen
@testable import Orchestrator

/// Records the signals an operation sends instead of sending them.
final class RecordingSignaller: Signalling, @unchecked Sendable {
    private let lock = NSLock()
    private var sent: [(ProxySignal, String)] = []
    var answer = CommandResult(status: 0)

    func send(_ signal: ProxySignal, to container: ContainerInfo) throws -> CommandResult {
        lock.withLock { sent.append((signal, container.name)) }
        return answer
    }

    var signals: [String] { lock.withLock { sent.map { "\($0.0.rawValue) \($0.1)" } } }
}

/// bgctl commands rotate the proxy's access log through the ports: files, then USR1 through the signaller.
@Suite struct ProxyLogRotationTests {
    let signaller = RecordingSignaller()
    let events = EventLog()

    final class EventLog: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [String] = []
        func add(_ event: StackEvent) {
            let text: String
            switch event {
            case .warning(let message): text = "warning: " + message
            case .detail(let message): text = "detail: " + message
            default: text = "other"
            }
            lock.withLock { items.append(text) }
        }
        var all: [String] { lock.withLock { items } }
    }

    func stack(maxSize: Int64 = 1024, keep: Int = 2) throws -> Stack {
        var spec = try Fixture.spec()
        spec.stateDir = Fixture.tempDir()
        spec.logs.maxSize = ByteSize(bytes: maxSize)
        spec.logs.keep = keep
        let runner = ScriptedRunner()
        let ports = Ports(runner: runner, http: ScriptedHTTP(), clock: FakeClock().clock, signaller: signaller, accessLog: { _ in ScriptedLog() })
        let log = events
        let stack = Stack(spec: spec, paths: StackPaths(spec: spec, specDirectory: "/"), ports: ports,
                          renderer: try ConfigRenderer(templatesDirectory: Fixture.templates), environment: [:],
                          report: { log.add($0) })
        try FileManager.default.createDirectory(atPath: stack.paths.logsDir, withIntermediateDirectories: true)
        return stack
    }

    func proxy(_ state: String) -> ContainerInfo {
        ContainerInfo(name: "shop-proxy", id: "id-shop-proxy", state: state, health: nil, healthLog: [], image: "n", labels: [:],
                      startedAt: nil, exitCode: 0, pid: 4242)
    }

    func put(_ stack: Stack, _ name: String, bytes: Int) {
        _ = FileManager.default.createFile(atPath: stack.paths.logsDir + "/" + name, contents: Data(repeating: 0x41, count: bytes))
    }

    func names(_ stack: Stack) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: stack.paths.logsDir).filter { !$0.hasPrefix(".") }.sorted()
    }

    @Test func aLogPastMaxSizeIsRenamedAndTheRunningProxyGetsUSR1() throws {
        let stack = try stack()
        put(stack, "access.log", bytes: 1025)
        put(stack, "access.log.1", bytes: 10)
        put(stack, "access.log.2", bytes: 20)
        let outcome = try #require(stack.rotateProxyLog(proxy: proxy("running")))
        #expect(outcome.rotated)
        #expect(signaller.signals == ["USR1 shop-proxy"])
        #expect(try names(stack) == ["access.log.1", "access.log.2"])
        #expect(try FileManager.default.attributesOfItem(atPath: stack.paths.accessLog + ".2")[.size] as? Int == 10, "the oldest went")
        #expect(events.all.contains { $0.hasPrefix("detail: rotated logs/access.log") })
    }

    @Test func aLogAtMaxSizeIsLeftAloneAndNothingIsSignalled() throws {
        let stack = try stack()
        put(stack, "access.log", bytes: 1024)
        #expect(stack.rotateProxyLog(proxy: proxy("running"))?.rotated == false)
        #expect(try signaller.signals.isEmpty && names(stack) == ["access.log"])
    }

    @Test func aStoppedProxyIsNotSignalled() throws {
        let stack = try stack()
        put(stack, "access.log", bytes: 2000)
        #expect(stack.rotateProxyLog(proxy: proxy("exited"))?.rotated == true)
        #expect(signaller.signals.isEmpty)
        #expect(stack.rotateProxyLog(proxy: nil)?.reopen == true, "the log is missing beside .1: the reopen is still owed")
        #expect(signaller.signals.isEmpty)
    }

    @Test func aRotationWhoseReopenWasLostIsSignalledByTheNextCommand() throws {
        let stack = try stack()
        put(stack, "access.log.1", bytes: 2000)
        let outcome = try #require(stack.rotateProxyLog(proxy: proxy("running")))
        #expect(!outcome.rotated && outcome.reopen)
        #expect(signaller.signals == ["USR1 shop-proxy"])
    }

    @Test func aFailedSignalIsAWarningNotAFailure() throws {
        let stack = try stack()
        signaller.answer = CommandResult(status: 1, stderr: "no such container")
        put(stack, "access.log", bytes: 2000)
        #expect(stack.rotateProxyLog(proxy: proxy("running"))?.rotated == true)
        #expect(events.all.contains { $0.hasPrefix("warning: nginx was not told to reopen its log") && $0.contains("no such container") })
    }

    @Test func aDryRunRotatesNothing() throws {
        var stack = try stack()
        stack.dryRun = { _ in }
        put(stack, "access.log", bytes: 2000)
        #expect(stack.rotateProxyLog(proxy: proxy("running")) == nil)
        #expect(try names(stack) == ["access.log"] && signaller.signals.isEmpty)
    }
}
