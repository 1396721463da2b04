// bgctl-bench: figures for the watcher's hot path.
//
//   bgctl-bench generate FILE [LINES]   write a realistic access log (default 1,000,000 lines)
//   bgctl-bench parse FILE              parse every line on one core; prints lines/s and MB/s
//
// The log looks like production: long user agents, escaped quotes and backslashes, raw UTF-8,
// list-valued upstream fields ("502, 200") on retried requests, 5xx and 4xx mixed in.
import Foundation
import Watcher

func generate(_ path: String, lines: Int) {
    let agents = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0 \\\"quoted\\\" \\\\ backslash",
        "curl/8.5.0",
        "Go-http-client/1.1 日本語のエージェント café",
    ]
    let uris = ["/", "/api/orders?id=\(Int.random(in: 1...99999))", "/api/search?q=caf\u{e9}+cr\u{e8}me&page=2",
                "/static/app.3f2a9c.js", "/healthz", "/api/users/42/profile", "/login?next=%2Fdashboard", "/api/items/\\\"x\\\""]
    guard let out = FileHandle(forWritingAtPath: path) ?? {
        FileManager.default.createFile(atPath: path, contents: nil)
        return FileHandle(forWritingAtPath: path)
    }() else { fatalError("cannot write \(path)") }
    out.truncateFile(atOffset: 0)
    var chunk = ""
    var msec = 1_795_706_212.123
    var rng = SystemRandomNumberGenerator()
    for i in 0..<lines {
        msec += 0.005
        let roll = Int.random(in: 0..<1000, using: &rng)
        let retried = roll < 20
        let status = roll < 30 ? 502 : (roll < 60 ? 404 : (roll < 65 ? 500 : 200))
        let pool = (i / 50_000) % 2 == 0 ? "blue" : "green"
        let upstreamStatus = retried ? "502, \(status)" : "\(status)"
        let upstreamAddr = retried ? "172.29.41.10:3000, 172.29.41.11:3000" : "172.29.41.10:3000"
        let upstreamTime = retried ? "0.001, 0.012" : "0.0\(Int.random(in: 10...99, using: &rng))"
        chunk += #"{"time":"2026-11-26T15:16:52+00:00","msec":\#(String(format: "%.3f", msec)),"request_id":"\#(String(UInt64.random(in: 0...UInt64.max, using: &rng), radix: 16))","remote_addr":"203.0.113.\#(i % 250)","method":"\#(i % 7 == 0 ? "POST" : "GET")","uri":"\#(uris[i % uris.count])","status":\#(status),"bytes_sent":\#(Int.random(in: 200...40000, using: &rng)),"request_time":0.0\#(Int.random(in: 10...99, using: &rng)),"upstream_addr":"\#(upstreamAddr)","upstream_status":"\#(upstreamStatus)","upstream_response_time":"\#(upstreamTime)","pool":"\#(pool)","live":"blue","release":"2026.11.26-\#(pool)","user_agent":"\#(agents[i % agents.count])"}"# + "\n"
        if chunk.utf8.count > 1 << 20 {
            out.write(Data(chunk.utf8))
            chunk = ""
        }
    }
    out.write(Data(chunk.utf8))
    out.closeFile()
}

func parse(_ path: String) {
    guard let data = FileManager.default.contents(atPath: path) else { fatalError("cannot read \(path)") }
    var best = Double.infinity
    var lines = 0, malformed = 0, errors = 0, retried = 0
    for _ in 0..<5 {
        lines = 0; malformed = 0; errors = 0; retried = 0
        let started = DispatchTime.now().uptimeNanoseconds
        data.withUnsafeBytes { raw in
            let base = raw.baseAddress!
            var start = 0
            let count = raw.count
            while start < count {
                let nl = memchr(base + start, 0x0A, count - start).map { UnsafeRawPointer($0) - base } ?? count
                if let record = LineParser.parse(UnsafeRawBufferPointer(start: base + start, count: nl - start)) {
                    lines += 1
                    if record.status >= 500 { errors += 1 }
                    if record.retried { retried += 1 }
                } else {
                    malformed += 1
                }
                start = nl + 1
            }
        }
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
    }
    let mb = Double(data.count) / 1e6
    print(String(format: "parse: %d lines (%.1f MB, %.0f bytes/line), %d malformed, %d 5xx, %d retried",
                 lines, mb, Double(data.count) / Double(max(lines, 1)), malformed, errors, retried))
    print(String(format: "parse: best of 5 on one core: %.3f s = %.2f M lines/s, %.0f MB/s", best, Double(lines) / best / 1e6, mb / best))
}

let args = CommandLine.arguments
switch (args.count > 1 ? args[1] : "", args.count > 2 ? args[2] : "") {
case ("generate", let path) where !path.isEmpty:
    generate(path, lines: args.count > 3 ? Int(args[3]) ?? 1_000_000 : 1_000_000)
case ("parse", let path) where !path.isEmpty:
    parse(path)
default:
    FileHandle.standardError.write(Data("usage: bgctl-bench generate FILE [LINES] | parse FILE\n".utf8))
    exit(64)
}
