import Foundation
import Testing
@testable import Watcher

final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ line: String) {
        lock.lock()
        items.append(line)
        lock.unlock()
    }
    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

@Suite(.serialized) struct DeliveryTests {
    let settings = WatchSettings(project: "shop", releases: ["blue": "v1", "green": "v2"])

    func notification(_ state: AlertNotification.State = .firing) -> AlertNotification {
        AlertNotification(state: state, detection: Detection(
            kind: .errorRate, firing: state != .resolved, at: 1_795_706_212,
            figures: WindowFigures(requests: 200, errors: 25, retried: 3, errorRate: 12.5, retryRate: 1.5, threshold: 2,
                                   windowRequests: 200, windowSeconds: 60),
            pool: "green", live: "green",
            samples: [SampleRequest(time: 1_795_706_211, method: "GET", uri: "/api/orders?id=7", status: 500, upstreamStatus: "500", pool: "green")]),
            suppressed: false)
    }

    func deliver(_ answers: [Receiver.Answer], format: AlertTarget.Format = .slack, count: Int = 1,
                 timeout: Double = 5, waitFor: Int, seconds: Double = 10) -> (Receiver, [Receiver.Request], Delivery.Stats, [String]) {
        let receiver = Receiver(answers)
        let log = Lines()
        let delivery = Delivery(targets: [AlertTarget(name: "slack", format: format, url: receiver.url())], timeout: timeout) { log.add($0) }
        for _ in 0..<count { delivery.send(notification(), settings: settings) }
        let requests = receiver.wait(for: waitFor, seconds: seconds)
        delivery.finish(timeout: seconds)
        let stats = delivery.snapshot()["slack"]!
        receiver.stop()
        return (receiver, requests, stats, log.all)
    }

    @Test func aValidSlackMessageIsDeliveredOnce() throws {
        let (_, requests, stats, log) = deliver([.init(status: 200)], waitFor: 1)
        #expect(requests.count == 1 && stats.sent == 1 && stats.failed == 0)
        let request = try #require(requests.first)
        #expect(request.method == "POST" && request.path == "/services/T000/B000/SECRETTOKEN")
        #expect(request.headers["content-type"] == "application/json")
        #expect(SlackPayloadCheck.problems(request.body) == [])
        let object = try #require(try JSONSerialization.jsonObject(with: request.body) as? [String: Any])
        let text = try #require(object["text"] as? String)
        #expect(text.contains("error rate 12.5% ≥ 2.0% on green (release v2)"))
        let body = String(decoding: request.body, as: UTF8.self)
        #expect(body.contains("/api/orders?id=7") && body.contains("What to check"))
        #expect(log.isEmpty)
    }

    @Test func a429IsRetriedAfterRetryAfter() {
        let started = Date()
        let (_, requests, stats, log) = deliver([.init(status: 429, body: "rate_limited", headers: ["Retry-After": "1"]), .init(status: 200)], waitFor: 2)
        #expect(requests.count == 2 && stats.sent == 1)
        #expect(requests[1].at.timeIntervalSince(requests[0].at) >= 0.95)
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(log.contains { $0.contains("HTTP 429 rate limited; retrying in 1.0 s") })
    }

    @Test func a500IsRetriedThenDelivered() {
        let (_, requests, stats, _) = deliver([.init(status: 500, body: "rollup_error"), .init(status: 200)], waitFor: 2)
        #expect(requests.count == 2 && stats.sent == 1 && stats.failed == 0)
    }

    @Test func aTimeoutIsRetried() {
        let (_, requests, stats, log) = deliver([.init(status: 200, delay: 2), .init(status: 200)], timeout: 0.5, waitFor: 2)
        #expect(requests.count == 2 && stats.sent == 1)
        #expect(log.contains { $0.contains("Timeout") || $0.contains("timed out") })
    }

    @Test func aRevokedWebhookIsNotRetriedAndTheURLIsNeverPrinted() {
        let (_, requests, stats, log) = deliver([.init(status: 404, body: "no_service")], waitFor: 1)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(requests.count == 1)
        #expect(stats.failed == 1 && stats.sent == 0)
        #expect(stats.lastError == "HTTP 404 no_service: the webhook was revoked or disabled; create a new one")
        #expect(log.count == 1 && log[0].contains("alert delivery to slack failed"))
        #expect(!log.joined().contains("SECRETTOKEN") && !(stats.lastError ?? "").contains("SECRETTOKEN"))
    }

    @Test func anUnreachableTargetGivesUpWithoutBlockingTheCaller() {
        let receiver = Receiver([.init(status: 200)])
        let url = receiver.url()
        receiver.stop()
        let log = Lines()
        let delivery = Delivery(targets: [AlertTarget(name: "webhook 1", format: .json, url: url)], timeout: 1) { log.add($0) }
        let started = Date()
        delivery.send(notification(), settings: settings)
        #expect(Date().timeIntervalSince(started) < 0.1, "send only enqueues")
        delivery.finish(timeout: 15)
        #expect(delivery.snapshot()["webhook 1"]?.failed == 1)
        #expect(!log.all.joined().contains(url))
    }

    /// A webhook that takes the request and never answers holds `finish` for the grace it is given,
    /// not for its request timeout and retries: when it returns the message is neither sent nor failed
    /// (unbounded, four 1 s timeouts and their backoff would have failed it first).
    @Test func finishGivesAHungWebhookItsGraceAndNoMore() {
        let receiver = Receiver([.init(status: 200, delay: 3600)])
        let delivery = Delivery(targets: [AlertTarget(name: "webhook 1", format: .json, url: receiver.url())], timeout: 1) { _ in }
        delivery.send(notification(), settings: settings)
        #expect(receiver.wait(for: 1, seconds: 10).count == 1)
        delivery.finish(timeout: 0.2)
        let stats = delivery.snapshot()["webhook 1"]
        #expect(stats?.sent == 0 && stats?.failed == 0, "\(String(describing: stats))")
        receiver.stop()
    }

    /// SIGTERM to exit within `WatchLoop.stopBound` (the README's 10 s): the deliveries' grace, the
    /// metrics listener's longest stop and a second for the last batch and the status file fit in it.
    @Test func theStopBoundHoldsTheDeliveryGraceAndTheListenersStop() {
        #expect(WatchLoop.stopBound == 10)
        #expect(WatchLoop.deliveryGrace + RetryingMetricsServer.longestStop + 1 <= WatchLoop.stopBound)
        #expect(RetryingMetricsServer.longestStop == 2 * MetricsServer.longestStop)
    }

    @Test func theGenericWebhookGetsTheDocumentedJSON() throws {
        let (_, requests, _, _) = deliver([.init(status: 204, body: "")], format: .json, waitFor: 1)
        let request = try #require(requests.first)
        let object = try #require(try JSONSerialization.jsonObject(with: request.body) as? [String: Any])
        #expect(object["project"] as? String == "shop")
        #expect(object["kind"] as? String == "error_rate" && object["state"] as? String == "firing")
        #expect(object["pool"] as? String == "green" && object["release"] as? String == "v2")
        let figures = try #require(object["figures"] as? [String: Any])
        #expect(figures["error_rate"] as? Double == 12.5 && figures["requests"] as? Int == 200)
        #expect((object["samples"] as? [[String: Any]])?.first?["uri"] as? String == "/api/orders?id=7")
    }

    @Test func theCheckerRejectsWhatSlackWouldReject() {
        #expect(!SlackPayloadCheck.problems(Data("[]".utf8)).isEmpty)
        #expect(!SlackPayloadCheck.problems(Data(#"{"blocks":[{"type":"header","text":{"type":"mrkdwn","text":"x"}}]}"#.utf8)).isEmpty)
        #expect(!SlackPayloadCheck.problems(Data(#"{"blocks":[{"type":"nonsense"}]}"#.utf8)).isEmpty)
        #expect(SlackPayloadCheck.problems(Data(#"{"text":"hello"}"#.utf8)).isEmpty)
    }

    @Test(arguments: [AlertNotification.State.firing, .repeating, .resolved])
    func everyMessageStateIsValidBlockKit(_ state: AlertNotification.State) {
        let payload = AlertMessage.json(AlertMessage.slackPayload(notification(state), settings: settings))
        #expect(SlackPayloadCheck.problems(Data(payload)) == [])
    }
}

@Suite struct MessageFormatTests {
    @Test func timesArePrintedInUTCISO8601() {
        #expect(AlertMessage.iso(1_795_706_212.9) == "2026-11-26T15:16:52Z")
        #expect(AlertMessage.iso(0) == "1970-01-01T00:00:00Z")
    }

    @Test(arguments: [(12.5, "12.5%"), (2, "2.0%"), (0.04, "0.0%"), (8.333, "8.3%"), (99.96, "100.0%")])
    func percentagesHaveExactlyOneDecimal(_ value: Double, _ text: String) {
        #expect(AlertMessage.pct(value) == text)
    }
}
