import Foundation

/// A real HTTP server on 127.0.0.1 that stands in for Slack or a webhook endpoint: it records each
/// request and answers from a script (status, headers, body, delay); the last answer repeats.
final class Receiver: @unchecked Sendable {
    struct Answer {
        var status: Int
        var body: String = "ok"
        var headers: [String: String] = [:]
        var delay: Double = 0
    }

    struct Request {
        var method: String
        var path: String
        var headers: [String: String]
        var body: Data
        var at: Date
    }

    private let listener: Int32
    let port: Int
    private let lock = NSLock()
    private var answers: [Answer]
    private var received: [Request] = []
    private var stopped = false

    init(_ answers: [Answer]) {
        self.answers = answers
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(listener, 16)
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        self.listener = listener
        self.port = Int(UInt16(bigEndian: bound.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    deinit { stop() }

    func stop() {
        lock.lock()
        let already = stopped
        stopped = true
        lock.unlock()
        if !already {
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
        }
    }

    var requests: [Request] {
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    func url(_ path: String = "/services/T000/B000/SECRETTOKEN") -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Waits until `count` requests arrived or `seconds` passed.
    func wait(for count: Int, seconds: Double) -> [Request] {
        let deadline = Date().addingTimeInterval(seconds)
        while requests.count < count && Date() < deadline { usleep(10_000) }
        return requests
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { return }
            Thread { [self] in serve(client) }.start()
        }
    }

    private func serve(_ client: Int32) {
        defer { close(client) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var headerEnd: Range<Data.Index>?
        while headerEnd == nil {
            let n = read(client, &buffer, buffer.count)
            if n <= 0 { return }
            data.append(contentsOf: buffer[0..<n])
            headerEnd = data.range(of: Data("\r\n\r\n".utf8))
        }
        let head = String(decoding: data[..<headerEnd!.lowerBound], as: UTF8.self).split(separator: "\r\n").map(String.init)
        let requestLine = head[0].split(separator: " ").map(String.init)
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            if let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        var body = data[headerEnd!.upperBound...]
        while body.count < length {
            let n = read(client, &buffer, buffer.count)
            if n <= 0 { break }
            body.append(contentsOf: buffer[0..<n])
        }
        lock.lock()
        received.append(Request(method: requestLine[0], path: requestLine.count > 1 ? requestLine[1] : "", headers: headers, body: Data(body), at: Date()))
        let answer = answers.count > 1 ? answers.removeFirst() : answers[0]
        lock.unlock()
        if answer.delay > 0 { Thread.sleep(forTimeInterval: answer.delay) }
        var response = "HTTP/1.1 \(answer.status) X\r\nContent-Length: \(answer.body.utf8.count)\r\nConnection: close\r\n"
        for (name, value) in answer.headers { response += "\(name): \(value)\r\n" }
        response += "\r\n" + answer.body
        let bytes = Array(response.utf8)
        _ = bytes.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
    }
}

/// Checks a body the way Slack's incoming webhooks do: a JSON object with `text` and/or valid
/// Block Kit `blocks` within Slack's limits. Returns the problems found (empty when valid).
enum SlackPayloadCheck {
    static func problems(_ body: Data) -> [String] {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return ["not a JSON object"] }
        var problems: [String] = []
        let text = object["text"] as? String
        let blocks = object["blocks"] as? [[String: Any]]
        if (text ?? "").isEmpty && blocks == nil { problems.append("neither text nor blocks") }
        if let text, text.count > 40_000 { problems.append("text too long") }
        if let raw = object["blocks"], blocks == nil { problems.append("blocks is not a list of objects: \(type(of: raw))") }
        for (index, block) in (blocks ?? []).enumerated() {
            let type = block["type"] as? String ?? ""
            switch type {
            case "header":
                guard let t = block["text"] as? [String: Any], t["type"] as? String == "plain_text",
                      let s = t["text"] as? String, !s.isEmpty, s.count <= 150 else {
                    problems.append("blocks[\(index)]: header needs plain_text of 1–150 characters")
                    continue
                }
            case "section":
                let t = block["text"] as? [String: Any]
                let fields = block["fields"] as? [[String: Any]]
                if t == nil && fields == nil { problems.append("blocks[\(index)]: section needs text or fields") }
                if let fields, fields.count > 10 { problems.append("blocks[\(index)]: more than 10 fields") }
                for f in fields ?? [] where !["mrkdwn", "plain_text"].contains(f["type"] as? String ?? "") || (f["text"] as? String ?? "").count > 2000 {
                    problems.append("blocks[\(index)]: bad field")
                }
                if let t, (t["text"] as? String ?? "").count > 3000 { problems.append("blocks[\(index)]: section text over 3000") }
            case "context":
                guard let elements = block["elements"] as? [[String: Any]], !elements.isEmpty, elements.count <= 10 else {
                    problems.append("blocks[\(index)]: context needs 1–10 elements")
                    continue
                }
            case "divider":
                break
            default:
                problems.append("blocks[\(index)]: unknown block type \"\(type)\"")
            }
        }
        if (blocks ?? []).count > 50 { problems.append("more than 50 blocks") }
        return problems
    }
}
