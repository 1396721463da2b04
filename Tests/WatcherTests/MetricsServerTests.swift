import Foundation
import Testing
@testable import Watcher

/// A raw client on loopback: connects, sends bytes, reads until the server closes (bounded by `timeout`).
final class RawClient {
    let fd: Int32

    init?(port: Int) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port)).bigEndian
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            return nil
        }
    }

    deinit { close(fd) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Everything the server sent until it closed, or until `timeout` seconds passed.
    func readAll(timeout: Double = 5) -> String {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            result += buffer[0..<count]
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// True once the server closed its side (within `timeout`).
    func closedByServer(timeout: Double) -> Bool {
        _ = readAll(timeout: timeout)
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 0) > 0 else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_DONTWAIT)) <= 0
    }
}

func statusLine(_ response: String) -> String {
    // "\r\n" is one Character: split on the string.
    response.components(separatedBy: "\r\n").first ?? ""
}

func header(_ response: String, _ name: String) -> String? {
    for line in response.components(separatedBy: "\r\n").dropFirst() {
        if line.isEmpty { break }
        let parts = line.split(separator: ":", maxSplits: 1)
        if parts.count == 2 && parts[0].lowercased() == name.lowercased() { return parts[1].trimmingCharacters(in: .whitespaces) }
    }
    return nil
}

func body(_ response: String) -> String {
    guard let range = response.range(of: "\r\n\r\n") else { return "" }
    return String(response[range.upperBound...])
}

@Suite(.serialized) struct MetricsServerTests {
    static let exposition = "# TYPE bgctl_log_lines_total counter\nbgctl_log_lines_total 3\n"

    func server(maxConnections: Int = 8, maxHead: Int = 8192, headTimeout: Double = 2) throws -> MetricsServer {
        try MetricsServer(host: "127.0.0.1", port: 0, maxConnections: maxConnections, maxHead: maxHead, headTimeout: headTimeout) {
            Array(Self.exposition.utf8)
        }
    }

    func exchange(_ server: MetricsServer, _ request: String) throws -> String {
        let client = try #require(RawClient(port: server.port))
        client.send(request)
        return client.readAll()
    }

    @Test func getMetricsAnswers200WithTheExpositionAndItsContentType() throws {
        let server = try server()
        defer { server.stop() }
        let response = try exchange(server, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(statusLine(response) == "HTTP/1.1 200 OK")
        #expect(header(response, "Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        #expect(header(response, "Content-Length") == "\(Self.exposition.utf8.count)")
        #expect(header(response, "Connection") == "close")
        #expect(body(response) == Self.exposition)
    }

    @Test func aQueryStringStillReachesTheMetrics() throws {
        let server = try server()
        defer { server.stop() }
        #expect(statusLine(try exchange(server, "GET /metrics?x=1 HTTP/1.0\r\n\r\n")) == "HTTP/1.1 200 OK")
    }

    @Test func headAnswersTheHeadersWithoutTheBody() throws {
        let server = try server()
        defer { server.stop() }
        let response = try exchange(server, "HEAD /metrics HTTP/1.1\r\n\r\n")
        #expect(statusLine(response) == "HTTP/1.1 200 OK")
        #expect(header(response, "Content-Length") == "\(Self.exposition.utf8.count)")
        #expect(body(response) == "")
    }

    @Test(arguments: ["/", "/metrics/", "/metric", "/favicon.ico"])
    func otherPathsAnswer404(path: String) throws {
        let server = try server()
        defer { server.stop() }
        #expect(statusLine(try exchange(server, "GET \(path) HTTP/1.1\r\n\r\n")) == "HTTP/1.1 404 Not Found")
    }

    @Test(arguments: ["POST", "PUT", "DELETE", "OPTIONS", "get"])
    func otherMethodsAnswer405WithAllow(method: String) throws {
        let server = try server()
        defer { server.stop() }
        let response = try exchange(server, "\(method) /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        #expect(statusLine(response) == "HTTP/1.1 405 Method Not Allowed")
        #expect(header(response, "Allow") == "GET, HEAD")
    }

    @Test(arguments: ["GET /metrics\r\n\r\n", "GET  /metrics HTTP/1.1\r\n\r\n", "GET metrics HTTP/1.1\r\n\r\n", "\r\n\r\n"])
    func aMalformedRequestLineAnswers400(request: String) throws {
        let server = try server()
        defer { server.stop() }
        #expect(statusLine(try exchange(server, request)) == "HTTP/1.1 400 Bad Request")
    }

    @Test func aHeadOfExactlyTheLimitIsAnsweredAndOneByteMoreIs431() throws {
        let server = try server(maxHead: 1024)
        defer { server.stop() }
        let start = "GET /metrics HTTP/1.1\r\nX-Pad: "
        let end = "\r\n\r\n"
        let atLimit = start + String(repeating: "a", count: 1024 - start.utf8.count - end.utf8.count) + end
        #expect(atLimit.utf8.count == 1024)
        #expect(statusLine(try exchange(server, atLimit)) == "HTTP/1.1 200 OK")
        let past = start + String(repeating: "a", count: 1025 - start.utf8.count - end.utf8.count) + end
        #expect(statusLine(try exchange(server, past)) == "HTTP/1.1 431 Request Header Fields Too Large")
    }

    @Test func aHeadThatNeverEndsIsCutAtTheLimit() throws {
        let server = try server()
        defer { server.stop() }
        let response = try exchange(server, "GET /metrics HTTP/1.1\r\nX-Pad: " + String(repeating: "a", count: 20_000))
        #expect(statusLine(response) == "HTTP/1.1 431 Request Header Fields Too Large")
    }

    @Test func aClientThatTricklesItsHeadIsCutOffAtTheTimeout() throws {
        let server = try server(headTimeout: 0.5)
        defer { server.stop() }
        let client = try #require(RawClient(port: server.port))
        let start = Date()
        // One byte every 100 ms: each read is quick, but the head is never done within 0.5 s.
        var response = ""
        for byte in "GET /metrics HTTP/1.1\r\nX-Slow: yes" {
            client.send(String(byte))
            var pfd = pollfd(fd: client.fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 100) > 0 {
                response = client.readAll(timeout: 1)
                break
            }
        }
        let elapsed = Date().timeIntervalSince(start)
        #expect(statusLine(response) == "HTTP/1.1 408 Request Timeout")
        #expect(elapsed >= 0.45 && elapsed < 1.5, "cut off after \(elapsed) s")
    }

    @Test func anIdleConnectionIsClosedAfterTheTimeout() throws {
        let server = try server(headTimeout: 0.3)
        defer { server.stop() }
        let client = try #require(RawClient(port: server.port))
        #expect(client.closedByServer(timeout: 2))
    }

    @Test func pastTheConnectionLimitTheNextIsTold503UntilOneFrees() throws {
        let server = try server(maxConnections: 2, headTimeout: 5)
        defer { server.stop() }
        var idle = [try #require(RawClient(port: server.port)), try #require(RawClient(port: server.port))]
        // Both are accepted and held (they send nothing) before the third arrives.
        let deadline = Date().addingTimeInterval(3)
        while server.connections < 2 && Date() < deadline { usleep(10_000) }
        #expect(server.connections == 2)
        let third = try #require(RawClient(port: server.port))
        #expect(statusLine(third.readAll()) == "HTTP/1.1 503 Service Unavailable")
        idle.removeAll()
        // The held connections end once their clients close; then requests are served again.
        while server.connections > 0 && Date() < deadline.addingTimeInterval(3) { usleep(10_000) }
        #expect(server.connections == 0)
        #expect(statusLine(try exchange(server, "GET /metrics HTTP/1.1\r\n\r\n")) == "HTTP/1.1 200 OK")
    }

    @Test func anAddressInUseIsAnErrorThatSaysSo() throws {
        let first = try server()
        defer { first.stop() }
        #expect(throws: MetricsServerError.self) {
            try MetricsServer(host: "127.0.0.1", port: first.port) { [] }
        }
        do {
            _ = try MetricsServer(host: "127.0.0.1", port: first.port) { [] }
        } catch let error as MetricsServerError {
            #expect(error.code == EADDRINUSE)
            #expect(error.description.contains("127.0.0.1:\(first.port)") && error.description.contains("--metrics-listen off"))
        }
    }

    @Test func aHostThatIsNotAnIPv4AddressIsRefused() {
        #expect(throws: MetricsServerError.self) { try MetricsServer(host: "localhost", port: 0) { [] } }
        #expect(throws: MetricsServerError.self) { try MetricsServer(host: "127.0.0.1", port: 65_536) { [] } }
    }

    @Test func afterStopNothingListens() throws {
        let server = try server()
        let port = server.port
        server.stop()
        #expect(RawClient(port: port) == nil)
    }
}
