import Foundation
import HTTPClient
import Testing
import Watcher
@testable import Orchestrator

/// A real HTTP server on a unix socket, standing in for the engine's `GET /events`: each connection
/// gets the next script (chunks of body, then an end: the last chunk, or the connection cut), and
/// every request line is recorded.
final class EngineStandIn: @unchecked Sendable {
    enum End { case lastChunk, cut, hold }
    struct Script {
        var status = 200
        var chunks: [String]
        var end: End = .lastChunk
    }

    let path: String
    private let listener: Int32
    private let lock = NSLock()
    private var scripts: [Script]
    private var lines: [String] = []
    private var held: [Int32] = []

    init(_ scripts: [Script]) {
        self.scripts = scripts
        path = Fixture.tempDir() + "/engine.sock"
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() where index < raw.count - 1 { raw[index] = byte }
        }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        listen(listener, 8)
        Thread { [self] in acceptLoop() }.start()
    }

    deinit { stop() }

    private var stopped = false

    /// Once: a second close of the same number would close whatever another test opened since.
    func stop() {
        let first: Bool = lock.withLock {
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        lock.withLock { for fd in held { close(fd) }; held = [] }
    }

    var requestLines: [String] { lock.withLock { lines } }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { return }
            serve(client)
        }
    }

    private func serve(_ client: Int32) {
        var head: [UInt8] = []
        var byte: UInt8 = 0
        while read(client, &byte, 1) == 1 {
            head.append(byte)
            if head.count >= 4 && head.suffix(4) == [13, 10, 13, 10] { break }
        }
        let line = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n").first ?? ""
        let script: Script? = lock.withLock {
            lines.append(line)
            return scripts.isEmpty ? nil : scripts.removeFirst()
        }
        guard let script else {
            close(client)
            return
        }
        send(client, "HTTP/1.1 \(script.status) X\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        for chunk in script.chunks {
            send(client, String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n")
            usleep(20_000)
        }
        switch script.end {
        case .lastChunk:
            send(client, "0\r\n\r\n")
            close(client)
        case .cut:
            close(client)
        case .hold:
            lock.withLock { held.append(client) }
        }
    }

    private func send(_ fd: Int32, _ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}

/// One message as the engine writes it for a bgctl container.
func engineMessage(id: String, action: String, name: String = "shop-green", role: String = "pool", pool: String? = "green",
                   exitCode: String? = nil, timeNano: Int64, project: String = "shop") -> String {
    var attributes = ["name": name, "image": "shop:1", Docker.label: project, Docker.roleLabel: role]
    if let pool { attributes[Docker.poolLabel] = pool }
    if let exitCode { attributes["exitCode"] = exitCode }
    let object: [String: Any] = ["status": action, "id": id, "from": "shop:1", "Type": "container", "Action": action,
                                 "Actor": ["ID": id, "Attributes": attributes], "scope": "local",
                                 "time": timeNano / 1_000_000_000, "timeNano": timeNano]
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    return String(decoding: data, as: UTF8.self) + "\n"
}

/// Delivered events, from the follower's thread, read by the test.
final class Delivered: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [ContainerEvent] = []
    func add(_ event: ContainerEvent) { lock.withLock { events.append(event) } }
    var all: [ContainerEvent] { lock.withLock { events } }
}

// One at a time: each test's stand-in engine is a socket and a thread of its own, and their timings
// (a cut, a reconnection) must not depend on how busy the other tests keep the two cores.
@Suite(.serialized) struct EventFollowerTests {
    static let start: Int64 = 1_795_706_212_000_000_000

    @Test func itReconnectsAfterTheStreamEndsAskingFromTheLastEventsTimeAndDeliversEachEventOnce() throws {
        let first = engineMessage(id: "c1", action: "kill", timeNano: Self.start + 1)
        let second = engineMessage(id: "c1", action: "die", exitCode: "137", timeNano: Self.start + 1_000_000_002)
        let third = engineMessage(id: "c1", action: "start", timeNano: Self.start + 2_000_000_000)
        // The first message split across two chunks; the second connection repeats the event at `since`.
        let engine = EngineStandIn([
            .init(chunks: [String(first.prefix(40)), String(first.dropFirst(40)) + second], end: .lastChunk),
            .init(chunks: [second, third], end: .hold),
        ])
        defer { engine.stop() }
        let delivered = Delivered()
        var pauses: [Double] = []
        let follower = EventFollower(project: "shop", socket: engine.path, clock: { Self.start },
                                     pause: { pauses.append($0); return true },
                                     stop: { delivered.all.count >= 3 }, deliver: delivered.add)
        let started = Date()
        follower.run()
        #expect(Date().timeIntervalSince(started) < 5, "stopped promptly while the stream was open and quiet")
        #expect(delivered.all.map(\.action) == [.kill, .die, .start])
        #expect(delivered.all[1].exitCode == 137 && delivered.all[1].pool == "green" && delivered.all[1].container == "shop-green")
        let lines = engine.requestLines
        try #require(lines.count == 2)
        #expect(lines[0].hasPrefix("GET /events?filters=") && lines[0].hasSuffix("&since=1795706212.000000000 HTTP/1.1"), "\(lines[0])")
        #expect(lines[1].hasSuffix("&since=1795706213.000000002 HTTP/1.1"), "the last event's time: \(lines[1])")
        #expect(pauses == [EventFollower.initialBackoff], "a stream that ended is asked again after the shortest wait")
        #expect(follower.connections == 2)
    }

    @Test func theFiltersNameTheProjectsLabelContainersAndTheActions() throws {
        let path = EngineEvents.path(project: "shop", since: nil)
        let query = try #require(path.split(separator: "=", maxSplits: 1).last)
        let decoded = try #require(String(query).removingPercentEncoding)
        let filters = try #require(try JSONSerialization.jsonObject(with: Data(decoded.utf8)) as? [String: [String]])
        #expect(filters["label"] == ["io.bgctl.project=shop"])
        #expect(filters["type"] == ["container"])
        #expect(filters["event"] == ["die", "oom", "health_status", "start", "restart", "kill", "destroy"])
        #expect(!path.contains("since"))
        #expect(EngineEvents.sinceText(1_795_706_212_000_000_042) == "1795706212.000000042")
    }

    @Test func anEngineThatCannotBeReachedIsAskedAgainWithABackoffThatDoublesTo5Seconds() {
        var pauses: [Double] = []
        var said: [String] = []
        let follower = EventFollower(project: "shop", socket: Fixture.tempDir() + "/absent.sock", clock: { Self.start },
                                     pause: { pauses.append($0); return pauses.count < 8 }, stop: { false },
                                     deliver: { _ in }, say: { said.append($0) })
        follower.run()
        #expect(pauses == [0.2, 0.4, 0.8, 1.6, 3.2, 5, 5, 5])
        #expect(said.count == 1, "one message for a run of failures: \(said)")
    }

    @Test func aLiveEventStampedBeforeTheNewestIsStillDelivered() {
        // Concurrent operations: the engine may stamp the second event a little before the first.
        let later = engineMessage(id: "c1", action: "die", exitCode: "1", timeNano: Self.start + 9)
        let earlier = engineMessage(id: "c2", action: "die", exitCode: "1", timeNano: Self.start + 7)
        let engine = EngineStandIn([.init(chunks: [later, earlier], end: .lastChunk)])
        defer { engine.stop() }
        var pauses = 0
        let delivered = Delivered()
        let follower = EventFollower(project: "shop", socket: engine.path, clock: { Self.start },
                                     pause: { _ in pauses += 1; return pauses < 1 }, stop: { false }, deliver: delivered.add)
        follower.run()
        #expect(delivered.all.map(\.timeNano) == [Self.start + 9, Self.start + 7])
        #expect(follower.since == Self.start + 9, "the next connection asks from the newest")
    }

    @Test func aCutStreamIsAskedAgainAndAnErrorStatusBacksOff() {
        let event = engineMessage(id: "c1", action: "die", exitCode: "1", timeNano: Self.start + 5)
        let engine = EngineStandIn([
            .init(chunks: [event], end: .cut),
            .init(status: 500, chunks: ["{\"message\":\"boom\"}"], end: .lastChunk),
            .init(chunks: [event], end: .lastChunk),
        ])
        defer { engine.stop() }
        var pauses: [Double] = []
        let delivered = Delivered()
        let follower = EventFollower(project: "shop", socket: engine.path, clock: { Self.start },
                                     pause: { pauses.append($0); return pauses.count < 3 }, stop: { false }, deliver: delivered.add)
        follower.run()
        #expect(delivered.all.count == 1, "the repeat at since is dropped")
        // Cut: asked again at once; 500: a failure, so the wait doubles; the next stream starts it over.
        #expect(pauses == [0.2, 0.2, 0.2])
        #expect(engine.requestLines.count == 3)
    }
}

@Suite struct EngineEventParseTests {
    static let time: Int64 = 1_795_706_212_000_000_000

    func parse(_ text: String, project: String = "shop") -> EngineEvents.Message? {
        var copy = text.trimmingCharacters(in: .newlines)
        return copy.withUTF8 { EngineEvents.parse(UnsafeRawBufferPointer($0), project: project) }
    }

    @Test func aHealthStatusActionCarriesItsStatus() throws {
        let message = try #require(parse(engineMessage(id: "c1", action: "health_status: unhealthy", timeNano: Self.time)))
        #expect(message.event.action == .healthStatus && message.event.health == .unhealthy)
    }

    @Test(arguments: [
        ("another project's container", engineMessage(id: "c1", action: "die", exitCode: "1", timeNano: time, project: "blog")),
        ("an action not asked for", engineMessage(id: "c1", action: "pause", timeNano: time)),
        ("a health status not in the list", engineMessage(id: "c1", action: "health_status: starting", timeNano: time)),
        ("a role that is not bgctl's", engineMessage(id: "c1", action: "die", role: "db", pool: nil, exitCode: "1", timeNano: time)),
        ("an exit code that is no number", engineMessage(id: "c1", action: "die", exitCode: "1; rm", timeNano: time)),
        ("a name outside Docker's charset", engineMessage(id: "c1", action: "die", name: "shop green", exitCode: "1", timeNano: time)),
        ("a pool that is neither blue nor green", engineMessage(id: "c1", action: "die", pool: "red", exitCode: "1", timeNano: time)),
        ("a time before 2000", engineMessage(id: "c1", action: "die", exitCode: "1", timeNano: 1)),
        ("not an object", "[1]"),
    ])
    func messagesOutOfBoundsAreDropped(_ why: String, _ line: String) {
        #expect(parse(line) == nil, "\(why)")
    }

    @Test func aNetworkEventIsNoContainerEvent() {
        let line = engineMessage(id: "c1", action: "die", exitCode: "1", timeNano: Self.time).replacingOccurrences(of: "\"container\"", with: "\"network\"")
        #expect(parse(line) == nil)
    }
}

@Suite struct StreamLinesTests {
    func lines(_ pieces: [String], max: Int) -> (lines: [String], dropped: Int) {
        var splitter = StreamLines(maxLine: max)
        var out: [String] = []
        for piece in pieces {
            var copy = piece
            copy.withUTF8 { buffer in splitter.feed(UnsafeRawBufferPointer(buffer)) { out.append(String(decoding: $0, as: UTF8.self)) } }
        }
        return (out, splitter.dropped)
    }

    @Test func linesAreJoinedAcrossPiecesAndSplitWithinThem() {
        #expect(lines(["ab", "c\nde\r\nf", "\n"], max: 16).lines == ["abc", "de", "f"])
    }

    @Test func aLineOverTheBoundIsDroppedWholeAndTheNextIsRead() {
        let result = lines(["12345", "6789\nok\n", "1234567890\n"], max: 8)
        #expect(result.lines == ["ok"])
        #expect(result.dropped == 2)
        #expect(lines(["12345678\n"], max: 8).lines == ["12345678"], "exactly the bound is a line")
    }
}

@Suite struct EventLogTests {
    func event(_ seconds: Int64) -> ContainerEvent {
        ContainerEvent(timeNano: 1_795_706_212_000_000_000 + seconds, container: "shop-green", role: .pool, pool: "green", action: .die, exitCode: 1)
    }

    @Test func eventsAreAppendedOneLineEachAndTheFileIsRenamedPastItsBound() throws {
        let folder = Fixture.tempDir()
        let line = try #require(event(0).line)
        let log = EventLog(folder: folder, maxSize: (line.utf8.count + 1) * 3)
        for i in 0..<4 { try log.append(event(Int64(i))) }
        let current = try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8)
        let rotated = try String(contentsOfFile: folder + "/events.jsonl.1", encoding: .utf8)
        #expect(rotated.split(separator: "\n").count == 3 && current.split(separator: "\n").count == 1)
        #expect(current.split(separator: "\n").compactMap { ContainerEvent.parse(String($0)) } == [event(3)])
    }

    @Test func aLinkAtTheFilesNameIsNotFollowed() throws {
        let folder = Fixture.tempDir()
        try FileManager.default.createSymbolicLink(atPath: folder + "/events.jsonl", withDestinationPath: folder + "/elsewhere")
        #expect(throws: (any Error).self) { try EventLog(folder: folder).append(event(0)) }
        #expect(!FileManager.default.fileExists(atPath: folder + "/elsewhere"))
    }

    @Test func anEventOutOfBoundsIsNotWritten() throws {
        let folder = Fixture.tempDir()
        var bad = event(0)
        bad.container = "shop green"
        #expect(try EventLog(folder: folder).append(bad) == false)
    }
}
