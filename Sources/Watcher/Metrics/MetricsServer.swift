import Foundation
import Synchronization

/// Why the metrics listener could not start.
public struct MetricsServerError: Error, Sendable, Equatable, CustomStringConvertible {
    public var address: String
    public var code: Int32
    public var doing: String

    public var description: String {
        let reason = String(cString: strerror(code)).lowercased()
        var text = "cannot serve metrics on \(address): \(doing) failed: \(reason)"
        if code == EADDRINUSE {
            text += ". Something else listens there (the stack's watcher container, or another watcher): set watch.metrics.listen to a free address, or pass --metrics-listen ADDR or --metrics-listen off"
        } else if code == EADDRNOTAVAIL {
            text += ". The address is not one of this host's: use 127.0.0.1 or an address of this host"
        }
        return text
    }
}

/// A small HTTP/1.x listener for `GET /metrics`, on a POSIX socket with its own threads: one accepts,
/// one per connection answers. Bounded in every way a client could stretch it: at most
/// `maxConnections` at once (the next is told 503 and closed), a request head of at most
/// `maxHead` bytes (431), read within `headTimeout` seconds in all (408: a client that trickles its
/// head does not hold a thread longer), writes that give up after the same time, and one response per
/// connection. Only GET and HEAD are answered; other methods get 405, other paths 404.
public final class MetricsServer: Sendable {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public let host: String
    /// The port bound; the one asked for, or the one the system chose for port 0.
    public let port: Int
    private let listener: Int32
    private let maxConnections: Int
    private let maxHead: Int
    private let headTimeout: Double
    private let render: @Sendable () -> [UInt8]
    private let active = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let acceptDone = DispatchSemaphore(value: 0)

    /// Binds and listens on `host` (an IPv4 address) and `port`, then serves from a thread of its own
    /// until `stop()`. Throws when the address cannot be bound (in use, not this host's).
    public init(host: String, port: Int, maxConnections: Int = 8, maxHead: Int = 8192, headTimeout: Double = 2,
                render: @escaping @Sendable () -> [UInt8]) throws {
        let address = "\(host):\(port)"
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(clamping: port)).bigEndian
        guard (0...65535).contains(port), inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
            throw MetricsServerError(address: address, code: EINVAL, doing: "reading the address")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw MetricsServerError(address: address, code: errno, doing: "socket") }
        var one: Int32 = 1
        // Lets a restarted watcher bind while the old one's connections are in TIME_WAIT; Linux still
        // refuses an address another socket listens on.
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw MetricsServerError(address: address, code: code, doing: "bind")
        }
        guard listen(fd, 16) == 0 else {
            let code = errno
            close(fd)
            throw MetricsServerError(address: address, code: code, doing: "listen")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.host = host
        self.port = Int(UInt16(bigEndian: actual.sin_port))
        self.listener = fd
        self.maxConnections = max(1, maxConnections)
        self.maxHead = max(64, maxHead)
        self.headTimeout = headTimeout
        self.render = render
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "bgctl-metrics"
        thread.start()
    }

    /// Stops accepting and closes the listener (connections being answered finish on their own,
    /// within the head and write timeouts); waits for the accepting thread, at most `longestStop`.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        _ = acceptDone.wait(timeout: .now() + Self.longestStop)
    }

    /// Seconds `stop()` waits at most (the accepting thread sees it within 100 ms).
    public static let longestStop = 1.0

    /// Connections being answered now.
    public var connections: Int { active.load(ordering: .relaxed) }

    private func acceptLoop() {
        defer {
            close(listener)
            acceptDone.signal()
        }
        while !stopping.load(ordering: .relaxed) {
            // Polls in short steps so that stop() is seen within 100 ms.
            var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                // EMFILE and friends: back off instead of spinning on a listener that stays readable.
                if errno != EINTR && errno != EAGAIN && errno != ECONNABORTED { usleep(50_000) }
                continue
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            setTimeouts(client)
            if active.add(1, ordering: .acquiringAndReleasing).newValue > maxConnections {
                Self.respond(client, status: "503 Service Unavailable", body: Array("too many connections\n".utf8))
                finish(client)
                continue
            }
            let started = Self.spawn { [self] in
                answer(client)
                finish(client)
            }
            // No thread (a task limit reached): the slot and the descriptor are given back now, or
            // every later scrape would be refused until a restart.
            if !started {
                Self.respond(client, status: "503 Service Unavailable", body: Array("cannot start a thread\n".utf8))
                finish(client)
            }
        }
    }

    /// Runs `body` on a new detached thread; false, with `body` not run, when none can be started.
    /// (Foundation's `Thread.start` gives no way to tell.)
    static func spawn(_ body: @escaping @Sendable () -> Void) -> Bool {
        final class Box: @unchecked Sendable {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        guard status == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            return false
        }
        pthread_detach(thread)
        return true
    }

    private func finish(_ client: Int32) {
        // Reads what the client sent beyond its head (without waiting): closing with unread bytes
        // resets the connection, and the client could lose the response.
        var scratch = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<16 {
            let count = scratch.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count <= 0 { break }
        }
        close(client)
        active.subtract(1, ordering: .acquiringAndReleasing)
    }

    private func setTimeouts(_ client: Int32) {
        var timeout = timeval(tv_sec: Int(headTimeout), tv_usec: Int((headTimeout - headTimeout.rounded(.down)) * 1_000_000))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Reads one request head and answers it.
    private func answer(_ client: Int32) {
        switch readHead(client) {
        case .head(let head):
            respond(client, to: head)
        case .tooLarge:
            Self.respond(client, status: "431 Request Header Fields Too Large", body: Array("request head over \(maxHead) bytes\n".utf8))
        case .timedOut:
            Self.respond(client, status: "408 Request Timeout", body: Array("request head not complete within \(headTimeout) s\n".utf8))
        case .closed:
            break
        }
    }

    enum HeadRead: Equatable {
        case head([UInt8])
        case tooLarge
        case timedOut
        case closed
    }

    private func readHead(_ client: Int32) -> HeadRead {
        let deadline = monotonic() + headTimeout
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        while true {
            let left = deadline - monotonic()
            guard left > 0 else { return .timedOut }
            var pfd = pollfd(fd: client, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(max(1, (left * 1000).rounded(.up))))
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { return ready == 0 ? .timedOut : .closed }
            let count = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            guard count > 0 else { return .closed }
            head.append(contentsOf: chunk[0..<count])
            if let end = Self.headEnd(head) {
                return end <= maxHead ? .head(Array(head[0..<end])) : .tooLarge
            }
            if head.count > maxHead { return .tooLarge }
        }
    }

    /// The length of the head through its blank line (CRLF CRLF, or bare LF LF), if it is complete.
    static func headEnd(_ bytes: [UInt8]) -> Int? {
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x0A {
                if index + 1 < bytes.count && bytes[index + 1] == 0x0A { return index + 2 }
                if index + 2 < bytes.count && bytes[index + 1] == 0x0D && bytes[index + 2] == 0x0A { return index + 3 }
            }
            index += 1
        }
        return nil
    }

    private func respond(_ client: Int32, to head: [UInt8]) {
        let requestLine = head.prefix { $0 != 0x0D && $0 != 0x0A }
        let parts = requestLine.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].starts(with: Array("HTTP/1.".utf8)), parts[1].first == UInt8(ascii: "/") else {
            Self.respond(client, status: "400 Bad Request", body: Array("expected: GET /metrics HTTP/1.1\n".utf8))
            return
        }
        let method = String(decoding: parts[0], as: UTF8.self)
        let path = parts[1].prefix { $0 != UInt8(ascii: "?") }
        guard method == "GET" || method == "HEAD" else {
            Self.respond(client, status: "405 Method Not Allowed", extra: "Allow: GET, HEAD\r\n",
                         body: Array("only GET and HEAD\n".utf8), head: false)
            return
        }
        guard Array(path) == Array("/metrics".utf8) else {
            Self.respond(client, status: "404 Not Found", body: Array("metrics are at /metrics\n".utf8), head: method == "HEAD")
            return
        }
        Self.respond(client, status: "200 OK", contentType: Self.contentType, body: render(), head: method == "HEAD")
    }

    /// Writes a whole response with Connection: close; a client that does not read is given up on
    /// after the send timeout.
    static func respond(_ client: Int32, status: String, contentType: String = "text/plain; charset=utf-8", extra: String = "",
                        body: [UInt8], head: Bool = false) {
        let header = "HTTP/1.1 \(status)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n\(extra)Connection: close\r\n\r\n"
        var bytes = Array(header.utf8)
        if !head { bytes += body }
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            sent += count
        }
        // Tells the client the response is complete before the close, so it does not see a reset.
        shutdown(client, Int32(SHUT_WR))
    }

    private func monotonic() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
