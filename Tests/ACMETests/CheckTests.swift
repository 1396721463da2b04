import Foundation
import HTTPClient
import Testing
@testable import ACME

/// The client's pure checks: URLs, tokens, Retry-After, and the text it takes from the CA.
@Suite struct CheckTests {
    // MARK: - URLs

    static let refusedURLs: [Case<String>] = [
        Case("http to a remote host", "http://acme.example.org/directory"),
        Case("userinfo", "https://user@acme.example.org/directory"),
        Case("user and password", "https://user:secret@acme.example.org/directory"),
        Case("a space", "https://acme.example.org/dir ectory"),
        Case("a tab", "https://acme.example.org/dir\tectory"),
        Case("a newline", "https://acme.example.org/directory\n"),
        Case("2049 bytes", "https://acme.example.org/" + String(repeating: "a", count: 2049 - 25)),
        Case("another scheme", "ftp://acme.example.org/directory"),
        Case("no host", "https:///directory"),
        Case("no scheme", "acme.example.org/directory"),
        Case("non-ASCII", "https://acmé.example.org/directory"),
        Case("http to a name that starts like localhost", "http://localhost.example.org/directory"),
        Case("http to 127.0.0.1 as a userinfo", "http://127.0.0.1@acme.example.org/directory"),
    ]

    static let allowedURLs: [Case<String>] = [
        Case("https", "https://acme-v02.api.letsencrypt.org/directory"),
        Case("https with a port", "https://acme.example.org:14000/dir"),
        Case("http to 127.0.0.1", "http://127.0.0.1:14000/dir"),
        Case("http to localhost", "http://localhost/dir"),
        Case("http to LOCALHOST", "HTTP://LOCALHOST/dir"),
        Case("http to [::1]", "http://[::1]:14000/dir"),
        Case("exactly 2048 bytes", "https://acme.example.org/" + String(repeating: "a", count: 2048 - 25)),
    ]

    @Test(arguments: refusedURLs)
    func anUnsafeURLIsRefused(_ url: Case<String>) {
        #expect(throws: ACMEError.self) { try ACMEClient.checkURL(url.value, what: "the directory") }
    }

    @Test(arguments: allowedURLs)
    func aSafeURLIsAccepted(_ url: Case<String>) throws {
        try ACMEClient.checkURL(url.value, what: "the directory")
    }

    static func client(directory: String) -> ACMEClient {
        ACMEClient(options: ACMEOptions(directory: directory, email: nil, caFile: nil), accountKey: .generate(), account: nil,
                   transport: FakeCA(FakeCA.Script(), clock: FakeClock()), clock: FakeClock().clock)
    }

    @Test(arguments: ["http://127.0.0.1:2375/containers/create", "http://localhost:9100/metrics", "http://[::1]/x"])
    func aCAOnTheInternetCannotPointRequestsAtThisHostsLoopback(_ url: String) {
        let client = Self.client(directory: "https://acme-v02.api.letsencrypt.org/directory")
        #expect(throws: ACMEError.self) { try client.checkResource(url, what: "the order") }
    }

    @Test(arguments: ["http://127.0.0.1:14001/order/1", "http://127.0.0.1:2375/containers/create", "https://ca.example/order/1"])
    func aCAUnderTestOnLoopbackMayOnlyNameItsOwnOrigin(_ url: String) {
        let client = Self.client(directory: "http://127.0.0.1:14000/dir")
        #expect(throws: ACMEError.self) { try client.checkResource(url, what: "the order") }
    }

    @Test func aCAUnderTestOnLoopbackNamesItsOwnResources() throws {
        try Self.client(directory: "http://127.0.0.1:14000/dir").checkResource("http://127.0.0.1:14000/order/1", what: "the order")
        try Self.client(directory: "https://ca.example/dir").checkResource("https://other.ca.example/order/1", what: "the order")
    }

    @Test func theLengthCasesAreOneByteEitherSideOf2048() {
        #expect(Self.refusedURLs.first { $0.label == "2049 bytes" }?.value.utf8.count == 2049)
        #expect(Self.allowedURLs.first { $0.label == "exactly 2048 bytes" }?.value.utf8.count == 2048)
    }

    @Test func aRefusedURLIsShownWithoutItsPathOrCredentials() {
        do {
            try ACMEClient.checkURL("http://acme.example.org/acct/12345?token=s3cr3t", what: "the account")
            Issue.record("accepted")
        } catch {
            #expect("\(error)" == "acme: the CA gave a URL for the account that is not https (http://acme.example.org/…): "
                + "is proxy.tls.acme.directory an ACME (RFC 8555) directory?")
        }
        do {
            try ACMEClient.checkURL("https://user:s3cr3t@acme.example.org/", what: "the account")
            Issue.record("accepted")
        } catch {
            #expect("\(error)" == "acme: the CA gave an unusable URL for the account: is proxy.tls.acme.directory an ACME (RFC 8555) directory?")
        }
    }

    // MARK: - Tokens

    @Test(arguments: ["abc", "A-Z_a-z0-9", "tok_ABC-123xyz", String(repeating: "a", count: 43)])
    func base64URLTokensAreAccepted(_ token: String) {
        #expect(ACMEClient.isBase64URL(token))
    }

    @Test(arguments: ["", "../../etc/passwd", "a=", "a+b", "a/b", "a b", "a.b", "tök", "a\u{0}", "%2e%2e"])
    func tokensOutsideTheBase64URLAlphabetAreRefused(_ token: String) {
        #expect(!ACMEClient.isBase64URL(token))
    }

    // MARK: - Retry-After (RFC 9110 §10.2.3)

    static let now = Date(timeIntervalSince1970: 1_445_412_480)  // Wed, 21 Oct 2015 07:28:00 GMT
    static let cap = 30.0 * 86_400

    static let readableRetryAfters: [Case<Double>] = [
        Case("0", 0), Case("120", 120), Case(" 7 ", 7), Case("2592000", cap), Case("2592001", cap),
        Case("9999999999", cap), Case("99999999999", cap),
        Case("Wed, 21 Oct 2015 07:29:30 GMT", 90), Case("Wed, 21 Oct 2015 07:28:00 GMT", 0),
        Case("Tue, 20 Oct 2015 07:28:00 GMT", 0), Case("Mon, 30 Nov 2015 07:28:00 GMT", cap),
        Case("Thu, 22 Oct 2015 07:28:00 GMT", 86_400),
    ]

    @Test(arguments: readableRetryAfters)
    func retryAfterIsReadAsSecondsOrAnHTTPDateAndCappedAt30Days(_ entry: Case<Double>) {
        #expect(ACMEClient.retryAfter(response(retryAfter: entry.label), now: Self.now) == entry.value)
    }

    @Test(arguments: ["", "soon", "-5", "1.5", "12abc", "0x10", "Wed, 21 Oct 2015", "Wed, 32 Oct 2015 07:28:00 GMT",
                      String(repeating: "9", count: 65)])
    func anUnreadableRetryAfterIsNil(_ value: String) {
        #expect(ACMEClient.retryAfter(response(retryAfter: value), now: Self.now) == nil)
    }

    @Test func anAbsentRetryAfterIsNil() {
        #expect(ACMEClient.retryAfter(response(retryAfter: nil), now: Self.now) == nil)
    }

    // MARK: - Text from the CA

    @Test func exactly300CharactersAreKeptWhole() {
        let text = String(repeating: "a", count: 300)
        #expect(ACMEProblem.sanitize(text) == text)
    }

    @Test func the301stCharacterIsCutAndMarked() {
        #expect(ACMEProblem.sanitize(String(repeating: "a", count: 301)) == String(repeating: "a", count: 300) + "…")
    }

    @Test func aDNSNameOfTheLongest253CharactersIsKeptWhole() {
        let name = (0..<4).map { _ in String(repeating: "a", count: 62) }.joined(separator: ".") + ".a"
        #expect(name.count == 253)
        #expect(ACMEProblem.sanitize(name, limit: 253) == name)
    }

    static let dirtyTexts: [Case<String>] = [
        Case("ESC sequences lose their ESC", "\u{1B}[31mred\u{1B}[0m"),
        Case("C1 controls", "a\u{85}b\u{9B}c"),
        Case("DEL", "a\u{7F}b"),
        Case("bidi overrides and isolates", "\u{202E}abc\u{2066}d\u{2069}\u{200F}"),
        Case("CR LF and tabs", "\r\na\t\tb\r\n"),
        Case("NUL and BEL", "a\u{0}b\u{7}"),
    ]

    @Test(arguments: dirtyTexts)
    func controlsAndBidiOverridesAreRemovedAndWhitespaceFolded(_ text: Case<String>) {
        let clean = ACMEProblem.sanitize(text.value)
        #expect(!clean.unicodeScalars.contains { s in
            s.value < 0x20 || (0x7f...0x9f).contains(s.value) || (0x202a...0x202e).contains(s.value)
                || (0x2066...0x2069).contains(s.value) || s.value == 0x200e || s.value == 0x200f
        })
        #expect(!clean.hasPrefix(" ") && !clean.hasSuffix(" ") && !clean.contains("  "))
    }

    @Test func sanitizingKeepsTheVisibleTextInOrder() {
        #expect(ACMEProblem.sanitize("\u{1B}[31mred\u{1B}[0m \u{202E}evil\r\n\tend ") == "[31mred [0m evil end")
    }

    @Test(arguments: [("Invalid response from http://x/.well-known/acme-challenge/t: 404", 404), ("the server returned 503", 503),
                      ("Fetching http://x/: Timeout", nil), ("code 1404", nil), ("code 99", nil), ("code 700", nil), ("", nil)] as [(String, Int?)])
    func aTrailingHTTPStatusIsReadFromAProblemDetail(_ detail: String, _ status: Int?) {
        #expect(ACMEError.trailingStatus(detail) == status)
    }

    @Test(arguments: [(0.0, "0 s"), (59.2, "60 s"), (119.0, "119 s"), (120, "2 min"), (7199, "119 min"), (7200, "2 h"),
                      (172_799, "47 h"), (172_800, "2 days"), (-5, "0 s")] as [(Double, String)])
    func aDurationIsShownInTheLargestSensibleUnit(_ seconds: Double, _ text: String) {
        #expect(ACMEError.duration(seconds) == text)
    }

    // MARK: - Problem documents (RFC 7807, RFC 8555 §6.7)

    @Test func aProblemDocumentGivesItsCodeAndTheFirstSubproblemsName() throws {
        let body = #"{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"","subproblems":[{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"forbidden name","identifier":{"type":"dns","value":"bad.example"}}]}"#
        let problem = try #require(ACMEProblem.parse(Array(body.utf8)))
        #expect(problem == ACMEProblem(type: "urn:ietf:params:acme:error:rejectedIdentifier", detail: "forbidden name", identifier: "bad.example"))
        #expect(problem.code == "rejectedIdentifier")
        let error = ACMEError.problem(what: "create an order", problem, status: 400, retryAfter: nil)
        #expect("\(error)" == "acme: the CA refused to create an order (HTTP 400): forbidden name (rejectedIdentifier) for bad.example; "
            + "the CA will not certify this name: check proxy.hosts")
    }

    @Test func aProblemTypeThatIsNotPrintableIsNotShown() throws {
        let problem = try #require(ACMEProblem.parse(Array(#"{"type":"urn:x\u001b[2J","detail":"d"}"#.utf8)))
        #expect(problem.type == "(an unreadable problem type)")
        #expect(problem.code == nil)
    }

    @Test(arguments: ["", "not json", "[]", #"{"detail":"no type"}"#, "<html>502</html>"])
    func aBodyThatIsNoProblemDocumentParsesAsNone(_ body: String) {
        #expect(ACMEProblem.parse(Array(body.utf8)) == nil)
    }

    @Test func aRateLimitProblemIsARateLimitWhicheverCaseCarriesIt() {
        let problem = ACMEProblem(type: "urn:ietf:params:acme:error:rateLimited", detail: "")
        #expect(ACMEError.problem(what: "x", problem, status: 403, retryAfter: 5).isRateLimit)
        #expect(ACMEError.problem(what: "x", problem, status: 403, retryAfter: 5).retryAfter == 5)
        #expect(!ACMEError.problem(what: "x", ACMEProblem(type: "about:blank", detail: ""), status: 403, retryAfter: nil).isRateLimit)
        #expect(ACMEError.timeout(what: "x", seconds: 1).retryAfter == nil)
    }
}
