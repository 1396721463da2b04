import Foundation
import Synchronization
import Testing
@testable import Watcher

/// A listening socket on 127.0.0.1 at a port the system chose, held until `release()`: an address in use.
final class HeldPort {
    private var fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(bound == 0 && listen(fd, 1) == 0)
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: actual.sin_port))
    }

    func release() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    deinit { release() }
}

/// What a retrying server told its callbacks.
final class Heard: Sendable {
    let warnings = Mutex<[String]>([])
    let bound = Mutex<[Int]>([])
}

/// A watcher that runs until stopped never stops alerting because its metrics address is taken.
@Suite struct RetryingMetricsServerTests {
    func start(_ port: Int, interval: Double, heard: Heard, render: @escaping @Sendable () -> [UInt8] = { [] }) -> RetryingMetricsServer {
        RetryingMetricsServer(host: "127.0.0.1", port: port, retryInterval: interval,
                              unavailable: { error in heard.warnings.withLock { $0.append(error.notServedWarning(retryInterval: 30)) } },
                              bound: { server in heard.bound.withLock { $0.append(server.port) } }, render: render)
    }

    func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() && Date() < deadline { usleep(10_000) }
        return condition()
    }

    @Test func anAddressInUseIsWarnedOnceTheLoopGoesOnAndTheAddressIsBoundOnceFree() throws {
        let held = try HeldPort()
        let heard = Heard()
        let metrics = WatchMetrics(version: "t", targets: [])
        let retrying = start(held.port, interval: 0.1, heard: heard, render: metrics.exposition)
        defer { retrying.stop() }
        #expect(retrying.server == nil)
        #expect(heard.warnings.withLock { $0 } == [
            "metrics not served: 127.0.0.1:\(held.port) is in use (another stack's watcher?); set watch.metrics.listen to a free port; retrying every 30 s",
        ])

        // The loop reads and counts while the address is still taken.
        let file = LogFile()
        file.write((0..<5).map(file.line).joined())
        var options = WatchOptions(logPath: file.path)
        options.fromStart = true
        options.once = true
        let summary = WatchLoop(settings: WatchSettings(project: "shop"), options: options, delivery: nil, clock: { 2000 },
                                metrics: metrics) { _, _ in }.run(stop: { false })
        #expect(summary.lines == 5)
        // Several retries fail in the meantime; the warning is said once.
        usleep(350_000)
        #expect(retrying.server == nil)
        #expect(heard.warnings.withLock { $0.count } == 1)
        #expect(heard.bound.withLock { $0 }.isEmpty)

        held.release()
        #expect(waitUntil(seconds: 1.5) { retrying.server != nil }, "bound within a few retries of the port's release")
        #expect(heard.bound.withLock { $0 } == [held.port])
        let client = try #require(RawClient(port: held.port))
        client.send("GET /metrics HTTP/1.1\r\n\r\n")
        let response = client.readAll(timeout: 2)
        #expect(statusLine(response) == "HTTP/1.1 200 OK")
        #expect(response.contains("bgctl_log_lines_total 5"), "the lines read before the bind are in the metrics")
    }

    @Test func aFreeAddressIsBoundAtOnceWithoutAWarning() throws {
        let heard = Heard()
        let retrying = start(0, interval: 0.05, heard: heard)
        defer { retrying.stop() }
        #expect(retrying.server != nil)
        #expect(heard.warnings.withLock { $0 }.isEmpty)
        #expect(heard.bound.withLock { $0 }.isEmpty, "bound is for a later bind")
    }

    @Test func stopWhileRetryingEndsTheRetriesAndBindsNothingLater() throws {
        let held = try HeldPort()
        let heard = Heard()
        // A long interval: stop() must not wait for it.
        let retrying = start(held.port, interval: 30, heard: heard)
        let started = Date()
        retrying.stop()
        #expect(Date().timeIntervalSince(started) < 1)
        held.release()
        usleep(200_000)
        #expect(retrying.server == nil)
        #expect(heard.bound.withLock { $0 }.isEmpty)
        #expect(RawClient(port: held.port) == nil, "nothing listens on the released port")
    }

    @Test func anotherFailureThanInUseSaysWhatFailed() {
        let error = MetricsServerError(address: "10.9.9.9:9464", code: EADDRNOTAVAIL, doing: "bind")
        let text = error.notServedWarning(retryInterval: 30)
        #expect(text.hasPrefix("metrics not served: 10.9.9.9:9464: bind failed: "))
        #expect(text.hasSuffix("; retrying every 30 s"))
        #expect(!text.contains("in use"))
    }
}
