import Foundation
import FuzzSupport
import Testing
@testable import Watcher

enum Fuzz {
    /// `BGCTL_FUZZ_ITERATIONS` for long runs (`make fuzz`); a few seconds' worth in `swift test`.
    static func iterations(_ quick: Int) -> Int {
        ProcessInfo.processInfo.environment["BGCTL_FUZZ_ITERATIONS"].flatMap(Int.init) ?? quick
    }

    static var seed: UInt64 { ProcessInfo.processInfo.environment["BGCTL_FUZZ_SEED"].flatMap(UInt64.init) ?? 0x6267_6374_6C21 }

    /// Text that has bitten renderers: markup, mentions, links, controls, bidi, astral scalars.
    static let pieces = ["<", ">", "&", "`", "```", "*", "_", "~", "|", "<!channel>", "<!here>", "<@U123>", "<https://evil.example|x>",
                         "\n", "\r", "\t", "\u{0}", "\u{1B}[31m", "\u{7F}", "\u{85}", "\u{9B}", "\u{202E}", "\u{2066}", "\u{2069}",
                         "\u{200F}", "\u{2028}", "é", "😀", "\u{0301}", "\"", "\\", "/", "?a=1&b=2", "&amp;", "&lt;", " "]

    static func text<G: RandomNumberGenerator>(_ g: inout G, maxPieces: Int = 40) -> String {
        var out = ""
        for _ in 0..<Int.random(in: 0...maxPieces, using: &g) {
            if Bool.random(using: &g) { out += pieces.randomElement(using: &g)! } else {
                out.unicodeScalars.append(Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &g)))
            }
        }
        return out
    }

    /// A JSON string literal for `text`, escaping what JSON requires and, at random, other scalars
    /// as `\uXXXX` (astral ones as surrogate pairs).
    static func jsonString<G: RandomNumberGenerator>(_ text: String, _ g: inout G) -> String {
        var out = "\""
        for s in text.unicodeScalars {
            switch s {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += Bool.random(using: &g) ? "\\n" : "\\u000a"
            case "/" where Bool.random(using: &g): out += "\\/"
            case _ where s.value < 0x20 || Int.random(in: 0..<8, using: &g) == 0:
                if s.value > 0xFFFF {
                    let v = s.value - 0x10000
                    out += String(format: "\\u%04x\\u%04X", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF))
                } else {
                    out += String(format: Bool.random(using: &g) ? "\\u%04x" : "\\u%04X", s.value)
                }
            default: out.unicodeScalars.append(s)
            }
        }
        return out + "\""
    }
}

/// The parser against JSONSerialization on generated valid lines, and on random and mutated bytes
/// never a crash nor a range outside the line.
@Suite struct ParserFuzzTests {
    struct Expected {
        var status: Int
        var pool: PoolTag
        var live: PoolTag
        var uri: String
        var requestTime: Double
        var retried: Bool
    }

    static func tag(_ value: Any?) -> PoolTag {
        switch value as? String {
        case nil, "": return .none
        case "blue": return .blue
        case "green": return .green
        default: return .other
        }
    }

    /// The reference: JSONSerialization reads the same line, then the documented rules.
    static func reference(_ line: String) -> Expected? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
        let status = (object["status"] as? String).flatMap(Int.init) ?? (object["status"] as? NSNumber)?.intValue
        guard let status else { return nil }
        let upstream = object["upstream_status"] as? String ?? ""
        let attempts = upstream.isEmpty || upstream == "-" ? 0 : upstream.split(omittingEmptySubsequences: false) { $0 == "," || $0 == ":" }.count
        return Expected(status: status, pool: tag(object["pool"]), live: tag(object["live"]), uri: object["uri"] as? String ?? "",
                        requestTime: (object["request_time"] as? NSNumber)?.doubleValue ?? -1, retried: attempts > 1)
    }

    static func validLine<G: RandomNumberGenerator>(_ g: inout G) -> String {
        var fields: [String] = []
        let status = Int.random(in: 100...599, using: &g)
        fields.append("\"status\":" + (Bool.random(using: &g) ? "\(status)" : "\"\(status)\""))
        let pools = ["blue", "green", "", "other", "Blue", "blue ", "bl\\\"ue"]
        if Bool.random(using: &g) { fields.append("\"pool\":\"\(pools.randomElement(using: &g)!)\"") }
        if Bool.random(using: &g) { fields.append("\"live\":\"\(pools.randomElement(using: &g)!)\"") }
        if Bool.random(using: &g) { fields.append("\"uri\":" + Fuzz.jsonString(Fuzz.text(&g), &g)) }
        if Bool.random(using: &g) {
            let time = Bool.random(using: &g) ? "\(Int.random(in: 0...99, using: &g)).\(Int.random(in: 0...999, using: &g))" : "\"-\""
            fields.append("\"request_time\":\(time)")
        }
        if Bool.random(using: &g) {
            let lists = ["-", "200", "502, 200", "502 : 200", "502, 502, 200", "", "504, 502 : 200"]
            fields.append("\"upstream_status\":\"\(lists.randomElement(using: &g)!)\"")
        }
        for _ in 0..<Int.random(in: 0...3, using: &g) {
            let extras = ["{\"a\":[1,{\"b\":\"}]\"}]}", "[]", "null", "true", "-1.5e3", "[\"status\",200]",
                          Fuzz.jsonString(Fuzz.text(&g), &g), "{\"status\":{\"x\":\"{\"}}"]
            fields.append("\"x\(Int.random(in: 0...999, using: &g))\":\(extras.randomElement(using: &g)!)")
        }
        fields.shuffle(using: &g)
        let space = [" ", "", "\t", "  "]
        return "{" + space.randomElement(using: &g)! + fields.joined(separator: "," + space.randomElement(using: &g)!) + space.randomElement(using: &g)! + "}"
    }

    @Test func validLinesReadAsJSONSerializationReadsThem() throws {
        var g = SplitMix64(seed: Fuzz.seed)
        for iteration in 0..<Fuzz.iterations(3000) {
            let line = Self.validLine(&g)
            let expected = try #require(Self.reference(line), "generator made invalid JSON: \(line)")
            let bytes = Array(line.utf8)
            let ok = bytes.withUnsafeBytes { raw -> Bool in
                guard let record = LineParser.parse(raw) else { return false }
                return record.status == expected.status && record.pool == expected.pool && record.live == expected.live
                    && LineParser.text(raw, record.uri) == expected.uri && record.retried == expected.retried
                    && abs(record.requestTime - expected.requestTime) < 1e-9
            }
            if !ok {
                Issue.record("seed \(Fuzz.seed) iteration \(iteration): \(line)")
                return
            }
        }
    }

    /// Parses and, when it reads a record, checks every range lies inside the line and decodes.
    static func check(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            guard let record = LineParser.parse(raw) else { return true }
            for range in [record.uri, record.method, record.release, record.upstreamStatus] {
                guard range.lowerBound >= 0, range.upperBound <= raw.count else { return false }
                _ = LineParser.text(raw, range)
                _ = LineParser.text(raw, range, limit: 20)
            }
            return (100...599).contains(record.status)
        }
    }

    @Test func randomAndMutatedBytesNeverCrashNorReadOutsideTheLine() {
        var g = SplitMix64(seed: Fuzz.seed &+ 1)
        for iteration in 0..<Fuzz.iterations(3000) {
            var bytes = Array(Self.validLine(&g).utf8)
            switch Int.random(in: 0..<5, using: &g) {
            case 0: bytes = (0..<Int.random(in: 0...200, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
            case 1: bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &g)))
            case 2:
                for _ in 0..<Int.random(in: 1...4, using: &g) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &g)] = [0x22, 0x5C, 0x7B, 0x7D, 0x2C, 0x3A, 0x00, 0xFF].randomElement(using: &g)!
                }
            case 3:
                // A backslash run before a closing quote, a classic for string scanners.
                bytes.insert(contentsOf: Array(repeating: 0x5C, count: Int.random(in: 1...5, using: &g)),
                             at: Int.random(in: 0...bytes.count, using: &g))
            default:
                bytes.removeSubrange(Int.random(in: 0...bytes.count / 2, using: &g)..<bytes.count / 2 + Int.random(in: 0...bytes.count / 2, using: &g))
            }
            if !Self.check(bytes) {
                Issue.record("seed \(Fuzz.seed) iteration \(iteration): \(bytes)")
                return
            }
        }
    }

    /// What fuzzing found, kept: escapes cut at the end of the value and lone surrogates.
    @Test(arguments: [#"{"status":200,"uri":"\u"}"#, #"{"status":200,"uri":"\ud83d"}"#, #"{"status":200,"uri":"\ud83d\u"}"#,
                      #"{"status":200,"uri":"\\"}"#, #"{"status":200,"uri":"\udc00\ud800"}"#])
    func oddEscapesDecodeWithoutACrash(_ line: String) {
        #expect(Self.check(Array(line.utf8)))
    }
}

/// Alert messages from hostile samples: valid Block Kit within Slack's limits, nothing in any text
/// that Slack would read as markup, a mention, a link or a control.
@Suite struct RenderFuzzTests {
    static func texts(_ object: Any, into out: inout [String]) {
        if let d = object as? [String: Any] {
            if let type = d["type"] as? String, type == "mrkdwn" || type == "plain_text", let text = d["text"] as? String { out.append(text) }
            for value in d.values { texts(value, into: &out) }
        } else if let a = object as? [Any] {
            for value in a { texts(value, into: &out) }
        }
    }

    /// The problems of one rendered message; empty when it is safe.
    static func problems(_ payload: [String: Any], samples: Int) -> [String] {
        let body = Data(AlertMessage.json(payload))
        var problems = SlackPayloadCheck.problems(body)
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return ["does not parse back"] }
        var texts: [String] = []
        Self.texts(object, into: &texts)
        if let fallback = object["text"] as? String { texts.append(fallback) }
        for text in texts {
            // Scalars, not Characters: a combining mark after "<" must not hide it.
            let scalars = Array(text.unicodeScalars)
            if scalars.contains("<") || scalars.contains(">") { problems.append("raw < or >: \(text)") }
            let isSamples = text.hasPrefix("*Sample failing requests*\n```")
            if text.components(separatedBy: "```").count - 1 != (isSamples ? 2 : 0) { problems.append("a triple backtick: \(text)") }
            let newlines = text.unicodeScalars.filter { $0 == "\n" }.count
            if text.unicodeScalars.contains(where: { SafeText.isHidden($0) && $0 != "\n" }) { problems.append("a control: \(text)") }
            if isSamples && newlines != samples { problems.append("\(newlines) line breaks for \(samples) samples") }
            if text.count > 3000 { problems.append("over 3000") }
            for (i, s) in scalars.enumerated() where s == "&" {
                let entity = ["&amp;", "&lt;", "&gt;"].contains { Array($0.unicodeScalars) == Array(scalars[i..<min(scalars.count, i + $0.unicodeScalars.count)]) }
                if !entity { problems.append("a bare & at \(i): \(text)") }
            }
        }
        return problems
    }

    @Test func hostileSamplesRenderSafeSlackMessages() {
        var g = SplitMix64(seed: Fuzz.seed &+ 2)
        for iteration in 0..<Fuzz.iterations(150) {
            var samples: [SampleRequest] = []
            for _ in 0..<Int.random(in: 1...6, using: &g) {
                // Through a real log line, so invalid UTF-8 and escapes take the path they take in production.
                let uri = Fuzz.jsonString(Fuzz.text(&g, maxPieces: 120), &g)
                var bytes = Array(#"{"status":500,"method":"#.utf8) + Array(Fuzz.jsonString(Fuzz.text(&g, maxPieces: 6), &g).utf8)
                bytes += Array(#","uri":"#.utf8) + Array(uri.utf8)
                if Bool.random(using: &g) { bytes.insert(contentsOf: [0xFF, 0xC3], at: bytes.count - 1) }
                bytes += Array(#","upstream_status":"#.utf8) + Array(Fuzz.jsonString(Fuzz.text(&g, maxPieces: 8), &g).utf8) + [0x7D]
                bytes.withUnsafeBytes { raw in
                    guard let r = LineParser.parse(raw) else { return }
                    samples.append(SampleRequest(time: Double(Int.random(in: 0...2_000_000_000, using: &g)),
                                                 method: LineParser.text(raw, r.method, limit: 16), uri: LineParser.text(raw, r.uri, limit: 200),
                                                 status: r.status, upstreamStatus: LineParser.text(raw, r.upstreamStatus, limit: 40), pool: "green"))
                }
            }
            let project = Fuzz.text(&g, maxPieces: 10)
            let settings = WatchSettings(project: project.isEmpty ? "p" : project, releases: ["green": Fuzz.text(&g, maxPieces: 10)])
            let state = [AlertNotification.State.firing, .repeating].randomElement(using: &g)!
            let n = AlertNotification(state: state, detection: Detection(
                kind: AlertKind.allCases.randomElement(using: &g)!, firing: true, at: 1_795_706_212,
                figures: WindowFigures(requests: 200, errors: 25, retried: 3, errorRate: 12.5, retryRate: 1.5, threshold: 2, windowRequests: 200, windowSeconds: 60),
                pool: "green", live: "blue", samples: samples), suppressed: false)
            let problems = Self.problems(AlertMessage.slackPayload(n, settings: settings), samples: min(samples.count, 5))
            let a = Announcement(title: Fuzz.text(&g), ok: Bool.random(using: &g), fields: [(Fuzz.text(&g, maxPieces: 5), Fuzz.text(&g))],
                                 detail: Fuzz.text(&g, maxPieces: 400), json: [:])
            let announced = Self.problems(AlertMessage.slackPayload(a), samples: 0)
            let webhook = AlertMessage.json(AlertMessage.webhookPayload(n, settings: settings))
            let parsesBack = (try? JSONSerialization.jsonObject(with: Data(webhook))) != nil
            if !problems.isEmpty || !announced.isEmpty || !parsesBack {
                Issue.record("seed \(Fuzz.seed) iteration \(iteration): \(problems + announced) webhook JSON parses: \(parsesBack)")
                return
            }
        }
    }
}
