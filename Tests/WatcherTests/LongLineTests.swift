import Foundation
import Testing
@testable import Watcher

/// A line as bgctl's nginx logs it with `escape=json`, with the URI and user agent a client chose.
private func longLine(uri: String, agent: String, status: Int = 502, pool: String = "green") -> String {
    #"{"msec":1795706212.295,"method":"GET","uri":"\#(uri)","status":\#(status),"request_time":0.010,"upstream_status":"\#(status)","upstream_addr":"172.29.7.12:3000","pool":"\#(pool)","live":"green","user_agent":"\#(agent)"}"# + "\n"
}

/// Feeds `text` to an assembler in pieces of `chunk` bytes; returns the lines it delivered.
private func assemble(_ text: String, maxLine: Int, keptString: Int, chunk: Int = 7) -> (lines: [String], counters: Tailer.Counters) {
    var assembler = LineAssembler(maxLine: maxLine, keptString: keptString)
    var counters = Tailer.Counters()
    var lines: [String] = []
    let bytes = Array(text.utf8)
    var start = 0
    while start < bytes.count {
        let end = min(bytes.count, start + chunk)
        _ = bytes[start..<end].withUnsafeBytes { piece in
            assembler.feed(piece, counters: &counters) { lines.append(String(decoding: $0, as: UTF8.self)) }
        }
        start = end
    }
    return (lines, counters)
}

@Suite(.serialized) struct LongLineTests {
    // The issue's example: 25 answers of 502 to requests whose URI is ~8,170 quotes (each logged as
    // \") and whose user agent is ~8,180 control bytes (each logged as \u0001): every line is over 64 KiB.
    @Test func errorsOnLinesOverTheCapStillCount() {
        let log = LogFile()
        log.write("")
        let tally = LogTally(path: log.path, rules: LogRules(ignorePaths: [], count4xx: false))
        tally.begin()
        let line = longLine(uri: "/" + String(repeating: #"\""#, count: 8170), agent: String(repeating: #"\u0001"#, count: 8180))
        #expect(line.utf8.count > 65_536)
        for _ in 0..<25 { log.write(line) }
        tally.read(now: 1)
        #expect(tally.figures.requests == 25)
        #expect(tally.figures.errors == 25)
        #expect(tally.malformed == 0)
        #expect(tally.pool(named: "green").requests == 25)
    }

    @Test func aLineOfMegabytesIsCountedInBoundedMemory() {
        let log = LogFile()
        log.write("")
        let tailer = Tailer(path: log.path, fromStart: true)
        log.write(longLine(uri: "/" + String(repeating: "a", count: 4 << 20), agent: "curl"))
        var kept: [Int] = []
        var statuses: [Int] = []
        _ = tailer.readAvailable { _ in }
        for _ in 0..<64 {
            tailer.readAvailable { line in
                kept.append(line.count)
                if let record = LineParser.parse(line) { statuses.append(record.status) }
            }
        }
        #expect(statuses == [502])
        #expect(kept.allSatisfy { $0 <= 65_536 })
        #expect(tailer.counters.shortened == 1)
        #expect(tailer.counters.tooLong == 0)
    }

    static let head = #"{"status":502,"uri":""#, tail = #""}"#

    /// A line of `length` bytes: its uri is as long as that takes.
    static func line(length: Int) -> String { head + String(repeating: "a", count: length - head.count - tail.count) + tail }

    @Test func aLineOfExactlyTheCapIsDeliveredWhole() {
        let line = Self.line(length: 100)
        let result = assemble(line + "\n", maxLine: 100, keptString: 8)
        #expect(line.utf8.count == 100)
        #expect(result.lines == [line])
        #expect(result.counters.shortened == 0)
    }

    @Test func aLineOneByteOverTheCapIsShortenedNotDropped() {
        let line = Self.line(length: 101)
        #expect(line.utf8.count == 101)
        let result = assemble(line + "\n", maxLine: 100, keptString: 8)
        #expect(result.lines == [Self.head + "aaaaaaaa" + Self.tail])
        #expect(result.counters.shortened == 1)
        #expect(result.counters.tooLong == 0)
    }

    /// A cut falls where a character begins, never inside an escape or a UTF-8 sequence: the kept
    /// string is the fewest whole characters that make at least eight bytes, and the line still parses.
    @Test(arguments: [#"\""#, #"\\"#, #"\u0001"#, #"\n"#, "é", "€", "😀"])
    func aCutNeverSplitsACharacter(_ character: String) throws {
        let line = #"{"status":502,"uri":""# + String(repeating: character, count: 40) + #"","pool":"blue"}"#
        let result = assemble(line + "\n", maxLine: 60, keptString: 8)
        let kept = try #require(result.lines.first)
        #expect(kept == #"{"status":502,"uri":""# + String(repeating: character, count: (8 + character.utf8.count - 1) / character.utf8.count) + #"","pool":"blue"}"#)
        let record = try #require(kept.utf8CString.withUnsafeBytes { LineParser.parse(UnsafeRawBufferPointer(rebasing: $0.dropLast())) })
        #expect(record.status == 502)
    }

    @Test func aLineStillOverTheCapWhenShortenedIsDroppedAndTheNextIsRead() {
        let fields = (0..<40).map { #""k\#($0)":1"# }.joined(separator: ",")
        let result = assemble("{" + fields + #","status":502}"# + "\n" + #"{"status":200}"# + "\n", maxLine: 100, keptString: 8)
        #expect(result.lines == [#"{"status":200}"#])
        #expect(result.counters.tooLong == 1)
    }
}
