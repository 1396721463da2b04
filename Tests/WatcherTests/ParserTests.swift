import Foundation
import Testing
@testable import Watcher

func parse(_ line: String) -> LogRecord? {
    Array(line.utf8).withUnsafeBytes { LineParser.parse($0) }
}

func parse(bytes: [UInt8]) -> LogRecord? {
    bytes.withUnsafeBytes { LineParser.parse($0) }
}

@Suite struct ParserTests {
    let full = #"{"time":"2026-11-26T15:16:52+00:00","msec":1795706212.295,"request_id":"ab12","remote_addr":"172.29.41.1","method":"POST","uri":"/api/orders?x=\"1\"","status":502,"bytes_sent":225,"request_time":0.125,"upstream_addr":"172.29.41.10:3000, 172.29.41.11:3000","upstream_status":"502, 200","upstream_response_time":"0.001, 0.002","pool":"green","live":"blue","release":"v2","user_agent":"Mozilla/5.0 (X11; Linux x86_64) \"quoted\" \\ back"}"#

    @Test func readsTheFieldsTheAnalysisUses() throws {
        let record = try #require(parse(full))
        #expect(record.status == 502)
        #expect(record.pool == .green && record.live == .blue)
        #expect(record.upstreamAttempts == 2 && record.retried)
        #expect(abs(record.time - 1_795_706_212.295) < 0.0005)
        #expect(abs(record.requestTime - 0.125) < 1e-9)
        let bytes = Array(full.utf8)
        bytes.withUnsafeBytes { line in
            #expect(LineParser.text(line, record.uri) == "/api/orders?x=\"1\"")
            #expect(LineParser.text(line, record.method) == "POST")
            #expect(LineParser.text(line, record.release) == "v2")
            #expect(LineParser.text(line, record.upstreamStatus) == "502, 200")
            #expect(LineParser.text(line, record.upstreamAddr) == "172.29.41.10:3000, 172.29.41.11:3000")
        }
    }

    @Test func readsTheOlderSetupsLines() throws {
        let record = try #require(parse(#"{"status": "503", "pool": "blue", "release": "r1", "upstream_status": "503"}"#))
        #expect(record.status == 503 && record.pool == .blue && record.live == .none && !record.retried)
    }

    @Test func takesTheTimeFromISO8601WhenThereIsNoMsec() throws {
        let record = try #require(parse(#"{"time":"2026-11-26T16:16:52+01:00","status":200}"#))
        #expect(record.time == 1_795_706_212)
    }

    @Test func keepsRawUTF8AndSkipsNestedValues() throws {
        var bytes = Array(#"{"uri":"/caf"#.utf8) + [0xC3, 0xA9, 0xFF] + Array(#"","extra":{"a":[1,{"b":"}"}]},"status":200,"pool":"blue"}"#.utf8)
        let record = try #require(parse(bytes: bytes))
        #expect(record.status == 200 && record.pool == .blue)
        bytes.removeAll()
    }

    @Test(arguments: [
        "",
        "not json",
        "{",
        #"{"status":200"#,
        #"{"status":"#,
        #"{"status":"abc"}"#,
        #"{"status":42}"#,
        #"{"pool":"blue"}"#,
        #"{"status":200,}"#,
        #"{"status" 200}"#,
        #"["status",200]"#,
        #"{"status":200,"uri":"/unterminated}"#,
        #"{"status":20000000000000000000}"#,
    ])
    func malformedLinesAreNilNeverACrash(_ line: String) {
        #expect(parse(line) == nil)
    }

    @Test func binaryAndTruncatedBytesNeverCrash() {
        var generator = SystemRandomNumberGenerator()
        let line = Array(full.utf8)
        for cut in 0..<line.count {
            _ = parse(bytes: Array(line[0..<cut]))
        }
        for _ in 0..<2000 {
            let noise = (0..<Int.random(in: 0...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = parse(bytes: noise)
            var mutated = line
            mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            _ = parse(bytes: mutated)
        }
        #expect(parse(bytes: [0, 0, 0]) == nil)
    }

    @Test func aHundredKilobyteLineParses() throws {
        let agent = String(repeating: "x", count: 100_000)
        let record = try #require(parse(#"{"status":200,"user_agent":"\#(agent)","pool":"green"}"#))
        #expect(record.pool == .green)
    }
}
