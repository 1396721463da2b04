import Foundation
import HTTPClient
import Testing
@testable import ACME

/// What the CA can do wrong, or refuse, and what the client says about it.
@Suite struct FailureTests {
    private func script(_ change: (inout FakeCA.Script) -> Void) -> FakeCA.Script {
        var script = FakeCA.Script()
        script.token = fixedToken
        change(&script)
        return script
    }

    // MARK: - Challenges

    @Test func aChallengeAnswered404SaysWhereAndWhatToCheck() {
        let url = "http://example.com/.well-known/acme-challenge/\(fixedToken)"
        let harness = Harness(script {
            $0.challengeError = ("urn:ietf:params:acme:error:unauthorized", "Invalid response from \(url): 404")
        })
        let error = harness.obtain(oneName).failure
        #expect(error?.kind == "challengeFailed")
        #expect(error.map { "\($0)" } == "acme: example.com: the challenge at \(url) answered 404: Invalid response from \(url): 404 "
            + "(unauthorized): is port 80 of example.com reaching this host, and does its DNS point here?")
        #expect(harness.ca.unpublished == [fixedToken])
        #expect(harness.ca.requests(to: .finalize).isEmpty)
    }

    @Test func aChallengeProblemWithTerminalEscapesAndControlsIsCleanedAndCut() throws {
        let hostile = "\u{1B}[31mred\u{1B}[0m \u{202E}evil\u{202C}\r\n bell\u{07}\u{85} " + String(repeating: "x", count: 400)
        let harness = Harness(script { $0.challengeError = ("urn:ietf:params:acme:error:unauthorized", hostile) })
        let text = try #require(harness.obtain(oneName).failure.map { "\($0)" })
        let cleaned = "[31mred [0m evil bell " + String(repeating: "x", count: 278) + "…"
        #expect(text == "acme: example.com: the challenge at http://example.com/.well-known/acme-challenge/\(fixedToken) could not be validated: "
            + "\(cleaned) (unauthorized): is port 80 of example.com reaching this host, and does its DNS point here?")
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) || (0x202a...0x202e).contains($0.value) })
    }

    @Test func aCAThatOffersNoHTTP01ChallengeIsRefusedBeforeAnythingIsPublished() {
        let harness = Harness(script { $0.offerHTTP01 = false })
        let error = harness.obtain(oneName).failure
        #expect(error.map { "\($0)" } == "acme: the CA offers no http-01 challenge for example.com (it offers: dns-01, tls-alpn-01): "
            + "is proxy.tls.acme.directory an ACME (RFC 8555) directory?")
        #expect(harness.ca.published.isEmpty)
        #expect(harness.ca.requests(to: .challenge).isEmpty)
    }

    @Test(arguments: ["../../etc/passwd", "tok en", "tok=", "", "tök", "a/b", "a.b", "x\u{0}y"])
    func aTokenThatIsNotBase64URLIsNeverPublished(_ token: String) {
        let harness = Harness(script { $0.token = token })
        let calls = Box(0)
        let error = harness.obtain(oneName, publish: { _, _ in calls.value += 1 }).failure
        #expect(error.map { "\($0)" }?.hasPrefix("acme: the CA sent example.com a challenge token that is not base64url") == true)
        #expect(calls.value == 0)
        #expect(harness.ca.requests(to: .challenge).isEmpty)
    }

    @Test func aPublishThatFailsStopsTheIssuanceAndUnpublishesWhatWasPublished() {
        let harness = Harness()
        struct DiskFull: Error, CustomStringConvertible { var description: String { "disk full\n\u{1B}[2J" } }
        let error = harness.obtain(threeNames, publish: { token, keyAuthorization in
            if harness.ca.published.count == 1 { throw DiskFull() }
            harness.ca.publish(token, keyAuthorization)
        }).failure
        #expect(error.map { "\($0)" } == "acme: b.example.com: could not write the challenge file (disk full [2J): "
            + "check the free space and permissions of the proxy's folder")
        #expect(harness.ca.published.count == 1)
        // The token whose file could not be written is removed too: a half-written file goes with it.
        #expect(harness.ca.unpublished.count == 2 && harness.ca.unpublished.first == harness.ca.published.first)
        #expect(harness.ca.requests(to: .challenge).count == 1)
    }

    @Test(arguments: nameSetsForUnpublishing)
    func everyTokenIsUnpublishedWhenTheChainIsRefused(_ names: [String]) {
        let harness = Harness(script {
            $0.token = nil
            $0.certificateBody = "<html>oops</html>"
        })
        #expect(harness.obtain(names).failure?.kind == "protocolViolation")
        #expect(harness.ca.published.count == names.count)
        #expect(harness.ca.unpublished.sorted() == harness.ca.published.sorted())
        #expect(harness.ca.webroot.isEmpty)
    }

    static let nameSetsForUnpublishing = [oneName, threeNames]

    // MARK: - URLs the CA gives

    @Test func aDirectoryWithAPlainHTTPResourceIsRefusedBeforeAnyPost() {
        let harness = Harness(script { $0.directoryOverrides = ["newOrder": "http://ca.test/new-order"] })
        let error = harness.obtain(oneName).failure
        #expect(error.map { "\($0)" } == "acme: the CA gave a URL for the directory's resources that is not https (http://ca.test/…): "
            + "is proxy.tls.acme.directory an ACME (RFC 8555) directory?")
        #expect(harness.ca.requests.map(\.endpoint) == [.directory])
    }

    @Test func anOrderWithAPlainHTTPAuthorizationIsRefusedWithoutFetchingIt() {
        let harness = Harness(script { $0.authorizationBase = "http://ca.test" })
        let error = harness.obtain(oneName).failure
        #expect(error.map { "\($0)" }?.hasPrefix("acme: the CA gave a URL for an authorization that is not https (http://ca.test/…)") == true)
        #expect(harness.ca.requests(to: .authorization).isEmpty)
        #expect(harness.ca.violations == [])
    }

    @Test func aDirectoryURLOverPlainHTTPToARemoteHostIsRefusedWithoutARequest() {
        var harness = Harness()
        harness.options.directory = "http://acme.example.org/directory"
        #expect(harness.obtain(oneName).failure?.kind == "protocolViolation")
        #expect(harness.ca.requests.isEmpty)
    }

    // MARK: - Answers that are not ACME

    @Test func aNewOrderAnswerWithoutLocationIsAProtocolViolation() {
        let harness = Harness(script { $0.omitLocation = [.newOrder] })
        let error = harness.obtain(oneName).failure
        #expect(error.map { "\($0)" } == "acme: the CA's answer to newOrder has no Location: is proxy.tls.acme.directory an ACME (RFC 8555) directory?")
        #expect(harness.ca.requests(to: .authorization).isEmpty)
    }

    @Test func aNewAccountAnswerWithoutLocationIsAProtocolViolation() {
        let harness = Harness(script {
            $0.faults = [FakeCA.Fault(endpoint: .newAccount, answer: .raw(status: 201, body: #"{"status":"valid"}"#))]
        })
        let error = harness.obtain(oneName).failure
        #expect(error.map { "\($0)" }?.hasPrefix("acme: the CA's answer to newAccount has no Location") == true)
        #expect(harness.ca.requests(to: .newOrder).isEmpty)
    }

    static let notPEMChains: [Case<String>] = [
        .init("an HTML page", "<html><body>Service Unavailable</body></html>"),
        .init("nothing", ""),
        .init("a private key", "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"),
        .init("terminal escapes inside", "-----BEGIN CERTIFICATE-----\n\u{1B}[2J\u{1B}]0;pwned\u{07}\n-----END CERTIFICATE-----\n"),
        .init("more than 256 KiB", "-----BEGIN CERTIFICATE-----\n" + String(repeating: "A", count: 300 * 1024) + "\n-----END CERTIFICATE-----\n"),
    ]

    @Test(arguments: notPEMChains)
    func aCertificateDownloadThatIsNotAPEMChainIsAProtocolViolation(_ body: Case<String>) {
        let harness = Harness(script { $0.certificateBody = body.value })
        let error = harness.obtain(oneName).failure
        #expect(error.map { "\($0)" } == "acme: the CA's certificate download is not a PEM certificate chain: "
            + "is proxy.tls.acme.directory an ACME (RFC 8555) directory?")
        #expect(!harness.recorder.events.contains(.issued))
    }

    @Test func anAnswerThatIsNotJSONIsAProtocolViolation() {
        let harness = Harness(script {
            $0.faults = [FakeCA.Fault(endpoint: .newOrder, answer: .raw(status: 201, body: "<html>order page</html>",
                                                                         headers: ["location": "https://ca.test/order/0"]))]
        })
        let error = harness.obtain(oneName).failure
        #expect(error.map { "\($0)" } == "acme: the CA's answer for newOrder is not the JSON object RFC 8555 describes: "
            + "is proxy.tls.acme.directory an ACME (RFC 8555) directory?")
    }

    @Test func aRefusalWithAProblemDocumentNamesItsCodeAndAdvice() {
        let harness = Harness(script {
            $0.faults = [FakeCA.Fault(endpoint: .newAccount, answer: .problem(status: 400, type: "invalidContact",
                                                                               detail: "contact email has an invalid domain"))]
        })
        let error = harness.obtain(oneName).failure
        #expect(error.map { "\($0)" } == "acme: the CA refused to register the ACME account (HTTP 400): contact email has an invalid domain "
            + "(invalidContact); check proxy.tls.acme.email")
        #expect(error?.isRateLimit == false)
    }

    @Test func aRefusalWithoutAProblemDocumentGivesTheStatusButNotTheBody() {
        let body = "<html>Internal Server Error: trace at /srv/boulder/wfe.go:1234</html>"
        let harness = Harness(script { $0.faults = [FakeCA.Fault(endpoint: .newOrder, answer: .raw(status: 500, body: body))] })
        let error = harness.obtain(oneName).failure
        #expect(error.map { "\($0)" } == "acme: the CA refused to create an order for example.com (HTTP 500): about:blank")
    }

    // MARK: - Hostile bodies

    /// A megabyte of nesting (what HTTPClient lets through at most), as the order and as a refusal:
    /// the JSON readers give up with an error, never a crash or a hang.
    @Test(arguments: [String(repeating: "[", count: 1 << 20), String(repeating: "{\"a\":", count: 1 << 17)])
    func deeplyNestedJSONIsNoOrderAndNoProblemDocument(_ body: String) {
        let asOrder = Harness(script { $0.faults = [FakeCA.Fault(endpoint: .newOrder, answer: .raw(status: 201, body: body, headers: ["location": "https://ca.test/order/1"]))] })
        #expect(asOrder.obtain(oneName).failure?.kind == "protocolViolation")
        let asRefusal = Harness(script { $0.faults = [FakeCA.Fault(endpoint: .newOrder, answer: .raw(status: 400, body: body))] })
        #expect(asRefusal.obtain(oneName).failure.map { "\($0)" } == "acme: the CA refused to create an order for example.com (HTTP 400): about:blank")
    }

    @Test func aProblemDocumentThatIsNotUTF8IsNoProblemDocument() {
        var bytes = Array(#"{"type":"urn:ietf:params:acme:error:malformed","detail":"bad "#.utf8)
        bytes += [0xff, 0xfe, 0x1b]
        bytes += Array(#"[2J"}"#.utf8)
        // Invalid UTF-8 makes the document unreadable: nothing of it is shown (the status is, "about:blank").
        #expect(ACMEProblem.parse(bytes) == nil)
    }

    // MARK: - Transport

    @Test func aCAThatCannotBeReachedIsATransportErrorWithTheRedactedURL() {
        let harness = Harness(script {
            $0.faults = [FakeCA.Fault(endpoint: .directory, answer: .transport(HTTPError(kind: .connect, message: "Couldn't connect to server after 3 ms")))]
        })
        let error = harness.obtain(oneName).failure
        #expect(error.map { "\($0)" } == "acme: could not fetch the ACME directory at https://ca.test/…: Couldn't connect to server after 3 ms: "
            + "check proxy.tls.acme.directory, proxy.tls.acme.ca_file and this host's outbound HTTPS")
        #expect(harness.ca.requests.count == 1)
    }

    @Test func aRequestThatTimesOutWithTimeLeftIsATransportError() {
        let harness = Harness(script {
            $0.faults = [FakeCA.Fault(endpoint: .order, answer: .transport(HTTPError(kind: .timeout, message: "Timeout was reached after 15000 ms"),
                                                                           seconds: 15))]
        })
        let error = harness.obtain(oneName).failure
        #expect(error?.kind == "transport")
        #expect(error.map { "\($0)" }?.hasPrefix("acme: could not check the order to be ready at https://ca.test/…: Timeout was reached") == true)
    }

    @Test func aRequestThatTimesOutPastTheDeadlineIsTheDeadline() {
        let harness = Harness(script {
            $0.faults = [FakeCA.Fault(endpoint: .authorization, answer: .transport(HTTPError(kind: .timeout, message: "Timeout was reached"),
                                                                                   seconds: 130))]
        })
        let error = harness.obtain(oneName).failure
        #expect(error.map { "\($0)" }?.hasPrefix("acme: gave up after 120 s waiting for the CA (to fetch an authorization):") == true)
    }

    @Test func theRequestTimeoutNeverReachesPastTheDeadline() {
        var script = FakeCA.Script()
        script.pendingForever = true
        let harness = Harness(script, deadline: 20)
        let recorded = TimeoutRecorder(harness.ca, clock: harness.clock)
        let started = harness.clock.now
        var client = ACMEClient(options: harness.options, accountKey: harness.key, account: nil, transport: recorded,
                                clock: harness.clock.clock)
        let ca = harness.ca
        _ = try? client.obtain(names: oneName, publish: { ca.publish($0, $1) }, unpublish: { ca.unpublish($0) })
        #expect(!recorded.seen.isEmpty)
        #expect(recorded.seen.allSatisfy { $0.timeout <= max(20 - ($0.at - started), 0.5) + 1e-9 && $0.timeout <= 15 })
        #expect(recorded.seen.allSatisfy { $0.connectTimeout <= 5 })
    }
}

/// Passes requests to the CA and writes down the timeouts each carried and when.
final class TimeoutRecorder: ACMETransport, @unchecked Sendable {
    private let ca: FakeCA
    private let clock: FakeClock
    private let lock = NSLock()
    private var _seen: [(timeout: Double, connectTimeout: Double, at: Double)] = []
    init(_ ca: FakeCA, clock: FakeClock) {
        self.ca = ca
        self.clock = clock
    }
    var seen: [(timeout: Double, connectTimeout: Double, at: Double)] { lock.withLock { _seen } }

    func perform(_ request: HTTPRequest) -> Result<HTTPResponse, HTTPError> {
        let at = clock.now
        lock.withLock { _seen.append((request.timeout, request.connectTimeout, at)) }
        return ca.perform(request)
    }
}
