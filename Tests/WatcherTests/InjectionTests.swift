import Foundation
import Testing
@testable import Watcher

/// What a log line carries reaches Slack and the terminal as text, never as formatting, mentions,
/// links or control sequences (issue: a URI closed the code block, pinged the channel, added a link).
@Suite struct InjectionTests {
    static let attack = "/x```\n<!channel> <https://evil.example/login|Click to fix>"

    func payload(uri: String, method: String = "GET", upstream: String = "500") -> [String: Any] {
        let n = AlertNotification(state: .firing, detection: Detection(
            kind: .errorRate, firing: true, at: 1_795_706_212,
            figures: WindowFigures(requests: 200, errors: 25, retried: 3, errorRate: 12.5, retryRate: 1.5, threshold: 2, windowRequests: 200, windowSeconds: 60),
            pool: "green", live: "green",
            samples: [SampleRequest(time: 1_795_706_211, method: method, uri: uri, status: 500, upstreamStatus: upstream, pool: "green")]),
            suppressed: false)
        return AlertMessage.slackPayload(n, settings: WatchSettings(project: "shop"))
    }

    func samplesText(_ payload: [String: Any]) -> String {
        let blocks = payload["blocks"] as? [[String: Any]] ?? []
        return blocks.compactMap { ($0["text"] as? [String: Any])?["text"] as? String }.first { $0.hasPrefix("*Sample") } ?? ""
    }

    @Test func theReportedURIStaysInsideItsCodeBlockWithoutMentionOrLink() {
        let text = samplesText(payload(uri: Self.attack))
        #expect(text == "*Sample failing requests*\n```2026-11-26T15:16:51Z GET /xˋˋˋ\u{FFFD}&lt;!channel&gt; &lt;https://evil.example/login|Click to fix&gt; → 500 (upstream 500, pool green)```")
    }

    @Test(arguments: [("a&b", "a&amp;b"), ("<x>", "&lt;x&gt;"), ("a`b", "aˋb"), ("\u{1B}[31m", "\u{FFFD}[31m"),
                      ("abc\u{202E}fed", "abc\u{FFFD}fed"), ("\u{2066}x\u{2069}", "\u{FFFD}x\u{FFFD}"), ("a\u{7F}\u{85}b", "a\u{FFFD}\u{FFFD}b")])
    func slackTextEscapesEachRule(_ raw: String, _ escaped: String) {
        #expect(SafeText.slack(raw, limit: 100) == escaped)
    }

    /// Invisible scalars that make two texts look alike or smuggle a hidden message: one per case,
    /// with the visible neighbours that bound each range.
    @Test(arguments: [0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF, 0x00AD,
                      0xE0000, 0xE0001, 0xE0041, 0xE007F])
    func anInvisibleScalarIsReplacedInSlackText(_ value: UInt32) throws {
        let scalar = try #require(Unicode.Scalar(value))
        #expect(SafeText.slack("a\(Character(scalar))b", limit: 100) == "a\u{FFFD}b")
        #expect(SafeText.terminal("a\(Character(scalar))b").unicodeScalars.allSatisfy { $0.isASCII })
    }

    @Test(arguments: [0x200A, 0x2010, 0x2065, 0xFEFE, 0xE0080])
    func aVisibleScalarBesideAnInvisibleRangePasses(_ value: UInt32) throws {
        let scalar = try #require(Unicode.Scalar(value))
        #expect(SafeText.slack("a\(Character(scalar))b", limit: 100) == "a\(Character(scalar))b")
    }

    @Test func clippingNeverCutsAnEntity() {
        #expect(SafeText.slack("ab<<<<", limit: 8) == "ab&lt;…")
        #expect(SafeText.slack("ab<", limit: 6) == "ab&lt;")
    }

    @Test func aLongURIIsClippedTo200Characters() {
        let text = samplesText(payload(uri: "/" + String(repeating: "a", count: 5000)))
        #expect(text.contains("/" + String(repeating: "a", count: 198) + "…"))
        #expect(!text.contains(String(repeating: "a", count: 200)))
    }

    @Test func capturedSampleFieldsAreClippedBeforeTheyAreKept() {
        let line = Array((#"{"status":500,"method":"GETGETGETGETGETGETGET","uri":"/"# + String(repeating: "b", count: 70_000) + #""}"#).utf8)
        line.withUnsafeBytes { raw in
            let record = LineParser.parse(raw)!
            #expect(LineParser.text(raw, record.uri, limit: 200).unicodeScalars.count == 200)
            #expect(LineParser.text(raw, record.method, limit: 16) == "GETGETGETGETGET…")
        }
    }

    @Test func theTerminalSeesControlCharactersEscaped() {
        #expect(SafeText.terminal("a\u{1B}]0;owned\u{07}b\nc\u{202E}d") == #"a\x1b]0;owned\x07b\nc\u{202e}d"#)
    }

    @Test func theGenericWebhookCarriesTheRawURIJSONEscaped() throws {
        let n = AlertNotification(state: .firing, detection: Detection(
            kind: .errorRate, firing: true, at: 0,
            figures: WindowFigures(requests: 1, errors: 1, retried: 0, errorRate: 100, retryRate: 0, threshold: 2, windowRequests: 1, windowSeconds: 60),
            pool: "green", live: "green", samples: [SampleRequest(time: 0, method: "GET", uri: Self.attack, status: 500, upstreamStatus: "500", pool: "green")]),
            suppressed: false)
        let body = AlertMessage.json(AlertMessage.webhookPayload(n, settings: WatchSettings(project: "shop")))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        #expect((object["samples"] as? [[String: Any]])?.first?["uri"] as? String == Self.attack)
    }

    @Test func anAnnouncementsReasonIsEscaped() {
        let a = Announcement(title: "shop: rolled back v2 <img>", ok: false, fields: [("Reason", "<!here> `x`")],
                             detail: "container said <!channel>\u{1B}[2J", json: [:])
        let body = String(decoding: AlertMessage.json(AlertMessage.slackPayload(a)), as: UTF8.self)
        #expect(!body.contains("<!") && !body.contains("<img>") && !body.contains("\\u001b") && !body.contains("`"))
        #expect(SlackPayloadCheck.problems(Data(AlertMessage.json(AlertMessage.slackPayload(a)))) == [])
    }
}
