import Foundation
@testable import HTTPClient
import Testing
@testable import Watcher

/// No webhook URL path, token or header value in anything the watcher writes (issue: an endpoint
/// answering `404 Cannot POST /hook/<token>` put the token into stderr, `--json` and status.json).
@Suite(.serialized) struct SecretsTests {
    let settings = WatchSettings(project: "shop")

    func notification() -> AlertNotification {
        AlertNotification(state: .firing, detection: Detection(kind: .failover, firing: true, at: 1_795_706_212, figures: WindowFigures(requests: 10, errors: 0, retried: 0, errorRate: 0, retryRate: 0, threshold: 2, windowRequests: 10, windowSeconds: 60),
                                                               pool: "green", live: "blue", samples: []), suppressed: false)
    }

    /// Sends one alert to a receiver that answers with `answer`; returns the stats and the log.
    func deliver(_ answer: Receiver.Answer, format: AlertTarget.Format, path: String,
                 headers: [(String, String)] = []) -> (Delivery.Stats, [String], String) {
        let receiver = Receiver([answer])
        defer { receiver.stop() }
        let log = Lines()
        let url = receiver.url(path)
        let delivery = Delivery(targets: [AlertTarget(name: "webhook 1", format: format, url: url, headers: headers)], timeout: 2) { log.add($0) }
        delivery.send(notification(), settings: settings)
        _ = receiver.wait(for: 1, seconds: 5)
        delivery.finish(timeout: 5)
        return (delivery.snapshot()["webhook 1"]!, log.all, url)
    }

    @Test func aGenericWebhookThatEchoesItsPathReportsOnlyTheStatus() throws {
        let (stats, log, _) = deliver(.init(status: 404, body: "Cannot POST /hook/tok_5ecr3t5ecr3t"), format: .json, path: "/hook/tok_5ecr3t5ecr3t")
        #expect(stats.lastError == "HTTP 404")
        #expect(log == ["alert delivery to webhook 1 failed: HTTP 404"])
        let status = String(decoding: try JSONEncoder().encode(stats), as: UTF8.self)
        #expect(!status.contains("5ecr3t"))
    }

    @Test func aSlackTargetRepeatsOnlyTheDocumentedErrorWords() {
        let (stats, _, _) = deliver(.init(status: 404, body: "Cannot POST /services/T0/B0/XOXTOKEN123456"), format: .slack,
                                    path: "/services/T0/B0/XOXTOKEN123456")
        #expect(stats.lastError == "HTTP 404")
    }

    @Test(arguments: ["invalid_payload", "user_not_found", "action_prohibited", "channel_not_found", "channel_is_archived",
                      "no_service", "rollup_error", "ok"])
    func aSlackErrorWordIsRepeated(_ word: String) {
        let reason: String
        switch DeliveryDecision.decide(status: 418, body: "\(word)\n", retryAfter: nil, transportError: nil, attempt: 1, format: .slack) {
        case .permanent(let r): reason = r
        default: reason = "not permanent"
        }
        #expect(reason == "HTTP 418 \(word)")
    }

    @Test func aGenericWebhooksBodyIsNeverRepeatedEvenWhenItIsASlackWord() {
        #expect(DeliveryDecision.decide(status: 404, body: "no_service", retryAfter: nil, transportError: nil, attempt: 1, format: .json)
                == .permanent(reason: "HTTP 404"))
    }

    @Test func theRedactorReplacesTheURLItsPathItsTokenAndHeaderValues() {
        let redactor = Redactor(urls: ["https://hooks.example.com/services/T0/B0/abcdefghijklmnop?key=qwertyuiopasdf"],
                                headerValues: ["Bearer sk-live-123456"])
        let text = "a https://hooks.example.com/services/T0/B0/abcdefghijklmnop?key=qwertyuiopasdf b /services/T0/B0/abcdefghijklmnop?key=qwertyuiopasdf c abcdefghijklmnop d qwertyuiopasdf e Bearer sk-live-123456"
        #expect(redactor.apply(text) == "a https://hooks.example.com/… b /… c … d … e …")
    }

    @Test(arguments: [
        ("https://hooks.slack.com/services/T0/B0/XYZ", "https://hooks.slack.com/…"),
        ("https://user:pass@example.com:8443/hook?token=1", "https://example.com:8443/…"),
        ("http://example.com", "http://example.com"),
        ("http://example.com/", "http://example.com"),
        ("not a url", "…"),
    ])
    func aURLIsPrintedAsSchemeAndHostOnly(_ url: String, _ shown: String) {
        #expect(Redact.url(url) == shown)
    }

    @Test func printingARequestOrATargetShowsNoPathNoQueryNoHeaderValue() {
        let url = "https://hooks.example.com/hook/tok_abcdefgh?sig=zzzzzz"
        let request = HTTPRequest(method: "POST", url: url, headers: [("Authorization", "Bearer sk-9999999")])
        let target = AlertTarget(name: "webhook 1", format: .json, url: url, headers: [("Authorization", "Bearer sk-9999999")])
        var dumped = ""
        dump(request, to: &dumped)
        dump(target, to: &dumped)
        for text in ["\(request)", String(reflecting: request), "\(target)", String(reflecting: target), dumped] {
            #expect(!text.contains("tok_") && !text.contains("sig=") && !text.contains("sk-9999999"), "\(text)")
        }
        #expect("\(request)" == "POST https://hooks.example.com/… (headers: Authorization: …)")
    }

    @Test func aTransportErrorNamesNoURL() throws {
        let result = HTTPClient().perform(HTTPRequest(method: "POST", url: "http://127.0.0.1:1/hook/tok_abcdefgh", timeout: 1))
        guard case .failure(let error) = result else {
            Issue.record("port 1 answered")
            return
        }
        #expect(!error.description.contains("tok_") && !error.description.contains("127.0.0.1"))
    }
}

/// `Retry-After` is a whole number of seconds or an HTTP-date, within 1…300 s; anything else falls
/// back to the backoff (issue: `Retry-After: nan` made the retries run back to back).
@Suite struct RetryAfterTests {
    let now = 1_795_706_212.0

    @Test(arguments: [("7", 7.0), (" 7 ", 7), ("0", 1), ("300", 300), ("301", 300), ("99999999999999999999999", 300),
                      ("Thu, 26 Nov 2026 15:17:52 GMT", 60), ("Thu, 26 Nov 2026 15:00:00 GMT", 1)])
    func aValidValueIsClamped(_ header: String, _ wait: Double) {
        #expect(RetryAfter.seconds(header, now: now) == wait)
    }

    @Test(arguments: ["nan", "NaN", "inf", "-inf", "-5", "1.5", "1e3", "", "soon", "0x10", "Thursday, 26-Nov-26 15:17:52 GMT"])
    func anythingElseFallsBackToTheBackoff(_ header: String) {
        #expect(RetryAfter.seconds(header, now: now) == nil)
        #expect(DeliveryDecision.decide(status: 429, body: "", retryAfter: header, transportError: nil, attempt: 2, now: now)
                == .retry(after: 1, reason: "HTTP 429 rate limited"))
    }
}

/// Durations and times of any size turn into integers without a trap (issue: `--for 9223372036854776`).
@Suite struct NumberTests {
    @Test(arguments: [Double.nan, -.infinity, .infinity, -1, 0, 1e300, 9_223_372_036_854_776])
    func timeoutsAreClampedForLibcurl(_ seconds: Double) {
        let ms = HTTPRequest.milliseconds(seconds)
        #expect(ms >= 1 && ms <= 86_400_000)
    }

    @Test(arguments: [Double.nan, -.infinity, .infinity, -1, 1e300, 9_223_372_036_854_776])
    func aTailerWaitOfAnyLengthReturnsWithinAMinute(_ seconds: Double) {
        var ends: [Int32] = [0, 0]
        pipe(&ends)
        defer { close(ends[0]); close(ends[1]) }
        _ = Array("x\n".utf8).withUnsafeBytes { write(ends[1], $0.baseAddress, 2) }
        let started = Date()
        Tailer(descriptor: ends[0]).wait(timeout: seconds)
        #expect(Date().timeIntervalSince(started) < 1, "data is waiting: the wait ends at once")
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity, 1e300, -1e300])
    func messagesTakeAnyWindowAndTime(_ value: Double) {
        let n = AlertNotification(state: .firing, detection: Detection(
            kind: .errorRate, firing: true, at: value,
            figures: WindowFigures(requests: 1, errors: 1, retried: 0, errorRate: 100, retryRate: 0, threshold: 2, windowRequests: 1, windowSeconds: value),
            pool: "blue", live: "blue", samples: [SampleRequest(time: value, method: "GET", uri: "/", status: 500, upstreamStatus: "500", pool: "blue")]),
            suppressed: false)
        #expect(SlackPayloadCheck.problems(Data(AlertMessage.json(AlertMessage.slackPayload(n, settings: WatchSettings(project: "shop"))))) == [])
        #expect(!AlertMessage.headline(n, settings: WatchSettings(project: "shop")).isEmpty)
    }
}
