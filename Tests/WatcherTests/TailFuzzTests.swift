import Foundation
import FuzzSupport
import Testing
@testable import Watcher

/// The line assembler and the tailer on hostile streams: lines of any length and bytes, cut at any
/// point. However the bytes arrive, the same lines come out; none is longer than the cap; a line
/// within the cap is untouched; a valid JSON line over it stays valid JSON with the same status.
@Suite struct TailFuzzTests {
    static let maxLine = 256
    static let keptString = 16

    /// One line's bytes, without its newline: JSON-ish text with long strings, escapes cut anywhere,
    /// multi-byte and invalid UTF-8, or random bytes.
    static func lineBytes<G: RandomNumberGenerator>(_ g: inout G) -> [UInt8] {
        switch Int.random(in: 0..<4, using: &g) {
        case 0:
            return (0..<Int.random(in: 0...600, using: &g)).map { _ in
                var byte = UInt8.random(in: 0...255, using: &g)
                if byte == 0x0A { byte = 0x0B }
                return byte
            }
        case 1:
            return Array(validJSONLine(&g).utf8)
        default:
            var bytes = Array(validJSONLine(&g).utf8)
            for _ in 0..<Int.random(in: 1...6, using: &g) where !bytes.isEmpty {
                let hostile: [[UInt8]] = [[0x5C], [0x5C, 0x75], [0x5C, 0x75, 0x30], [0x22], [0xE2, 0x80], [0xFF], [0xF0, 0x9F, 0x98, 0x80],
                                          Array(repeating: 0x5C, count: Int.random(in: 1...9, using: &g))]
                bytes.insert(contentsOf: hostile.randomElement(using: &g)!, at: Int.random(in: 0...bytes.count, using: &g))
            }
            return bytes
        }
    }

    /// A valid JSON access-log line whose string values may be far longer than the cap.
    static func validJSONLine<G: RandomNumberGenerator>(_ g: inout G) -> String {
        let status = Int.random(in: 100...599, using: &g)
        var fields = ["\"status\":\(status)", "\"pool\":\"\(["blue", "green"].randomElement(using: &g)!)\""]
        for name in ["uri", "user_agent", "referer"] where Bool.random(using: &g) {
            let long = String(repeating: ["\\\"", "\\u0001", "é", "a", "\\\\", "😀"].randomElement(using: &g)!, count: Int.random(in: 0...120, using: &g))
            fields.append("\"\(name)\":" + Fuzz.jsonString(Fuzz.text(&g, maxPieces: 20), &g).dropLast() + long + "\"")
        }
        fields.shuffle(using: &g)
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// Feeds `stream` in pieces of the given sizes (the last piece takes what is left).
    static func assemble(_ stream: [UInt8], pieces: [Int]) -> (lines: [[UInt8]], counters: Tailer.Counters) {
        var assembler = LineAssembler(maxLine: maxLine, keptString: keptString)
        var counters = Tailer.Counters()
        var lines: [[UInt8]] = []
        var start = 0
        var sizes = pieces.makeIterator()
        while start < stream.count {
            let end = min(stream.count, start + max(1, sizes.next() ?? stream.count))
            _ = stream[start..<end].withUnsafeBytes { piece in
                assembler.feed(piece, counters: &counters) { lines.append(Array($0)) }
            }
            start = end
        }
        return (lines, counters)
    }

    static func stream<G: RandomNumberGenerator>(_ g: inout G) -> (bytes: [UInt8], lines: [[UInt8]]) {
        let lines = (0..<Int.random(in: 1...12, using: &g)).map { _ in lineBytes(&g) }
        var bytes: [UInt8] = lines.flatMap { $0 + [0x0A] }
        // Sometimes a last line without its newline: it waits, and is not delivered.
        if Bool.random(using: &g) { bytes += Array(lineBytes(&g).prefix(Int.random(in: 1...40, using: &g))) }
        return (bytes, lines)
    }

    @Test func howeverTheBytesArriveTheSameLinesComeOut() {
        var g = SplitMix64(seed: Fuzz.seed &+ 10)
        for iteration in 0..<Fuzz.iterations(1500) {
            let (bytes, _) = Self.stream(&g)
            let whole = Self.assemble(bytes, pieces: [])
            let pieces = (0..<bytes.count).map { _ in Int.random(in: 1...[1, 3, 64, 300].randomElement(using: &g)!, using: &g) }
            let cut = Self.assemble(bytes, pieces: pieces)
            if cut.lines != whole.lines || cut.counters != whole.counters {
                Issue.record("seed \(Fuzz.seed) iteration \(iteration): \(cut.lines.count) lines in pieces, \(whole.lines.count) at once")
                return
            }
        }
    }

    @Test func everyLineIsDeliveredWithinTheCapOrCountedAsTooLong() {
        var g = SplitMix64(seed: Fuzz.seed &+ 11)
        for iteration in 0..<Fuzz.iterations(1500) {
            let (bytes, lines) = Self.stream(&g)
            let out = Self.assemble(bytes, pieces: (0..<bytes.count).map { _ in Int.random(in: 1...97, using: &g) })
            let fits = lines.filter { $0.count <= Self.maxLine }
            let within = out.lines.filter { $0.count <= Self.maxLine }
            var problems: [String] = []
            if out.lines.count + out.counters.tooLong != lines.count { problems.append("\(out.lines.count) delivered + \(out.counters.tooLong) too long ≠ \(lines.count)") }
            if within.count != out.lines.count || out.lines.contains(where: { $0.contains(0x0A) }) { problems.append("a line over the cap or with a newline") }
            if out.counters.shortened + fits.count != out.lines.count { problems.append("shortened \(out.counters.shortened) + \(fits.count) whole ≠ \(out.lines.count)") }
            // A line within the cap arrives byte for byte, in its order among the others.
            var rest = out.lines[...]
            for line in fits {
                guard let found = rest.firstIndex(of: line) else {
                    problems.append("a line within the cap changed or moved")
                    break
                }
                rest = rest[(found + 1)...]
            }
            if !problems.isEmpty {
                Issue.record("seed \(Fuzz.seed) iteration \(iteration): \(problems)")
                return
            }
        }
    }

    @Test func aValidJSONLineOverTheCapStaysValidJSONWithItsStatusAndPool() throws {
        var g = SplitMix64(seed: Fuzz.seed &+ 12)
        var shortened = 0
        for iteration in 0..<Fuzz.iterations(1500) {
            let line = Self.validJSONLine(&g)
            let original = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "generator made invalid JSON: \(line)")
            let out = Self.assemble(Array(line.utf8) + [0x0A], pieces: [Int.random(in: 1...300, using: &g)])
            guard let delivered = out.lines.first else { continue }
            if out.counters.shortened == 1 { shortened += 1 }
            let object = try? JSONSerialization.jsonObject(with: Data(delivered)) as? [String: Any]
            guard let object, object["status"] as? Int == original["status"] as? Int, object["pool"] as? String == original["pool"] as? String else {
                Issue.record("seed \(Fuzz.seed) iteration \(iteration): \(line.debugDescription) → \(String(decoding: delivered, as: UTF8.self).debugDescription)")
                return
            }
            if let parsed = delivered.withUnsafeBytes({ LineParser.parse($0) }), parsed.status != original["status"] as? Int {
                Issue.record("seed \(Fuzz.seed) iteration \(iteration): the parser reads status \(parsed.status)")
                return
            }
        }
        #expect(shortened > 0, "the generator never went over the cap")
    }

    /// What fuzzing found, kept: a cut between the halves of an escaped surrogate pair left a lone
    /// surrogate, which strict JSON readers refuse. The pair stays whole (or goes whole).
    @Test(arguments: [10, 15, 16, 17])
    func aCutNeverSplitsAnEscapedSurrogatePair(before: Int) throws {
        let value = String(repeating: "a", count: before) + #"\ud83d\ude00"# + String(repeating: "b", count: 300)
        let line = #"{"status":502,"pool":"green","uri":""# + value + #""}"#
        let out = Self.assemble(Array(line.utf8) + [0x0A], pieces: [])
        let delivered = try #require(out.lines.first)
        #expect(out.counters.shortened == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(delivered)) as? [String: Any], "\(String(decoding: delivered, as: UTF8.self))")
        #expect(object["status"] as? Int == 502)
        let uri = try #require(object["uri"] as? String)
        #expect(uri.hasPrefix(String(repeating: "a", count: min(before, Self.keptString))) && uri.count <= Self.keptString + 1)
        #expect(uri.contains("😀") == (before < Self.keptString))
    }

    /// The tailer over a real file, with buffers and batches of odd sizes: the lines the assembler gives.
    @Test func theTailerReadsAFileAsTheAssemblerJoinsIt() throws {
        var g = SplitMix64(seed: Fuzz.seed &+ 13)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bgctl-tailfuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("access.log").path
        // A file and an inotify instance each: a long run is capped at a few thousand.
        for iteration in 0..<min(Fuzz.iterations(150), 5000) {
            let (bytes, _) = Self.stream(&g)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let tailer = Tailer(path: path, fromStart: true, maxLine: Self.maxLine, bufferSize: Int.random(in: 1...700, using: &g),
                                batchBytes: Int.random(in: 1...2000, using: &g))
            var lines: [[UInt8]] = []
            for _ in 0..<(bytes.count + 2) {
                tailer.readAvailable { lines.append(Array($0)) }
                if tailer.caughtUp { break }
            }
            let expected = Self.assemble(bytes, pieces: [])
            if lines != expected.lines || tailer.counters.tooLong != expected.counters.tooLong || tailer.counters.shortened != expected.counters.shortened {
                Issue.record("seed \(Fuzz.seed) iteration \(iteration): the tailer gave \(lines.count) lines, the assembler \(expected.lines.count)")
                return
            }
        }
    }
}
