import Testing
@testable import NginxConfigGen

/// `proxy.tls.acme`: each key read, each rule of each value on its own (at its bound and just past
/// it), and the part the renderer writes before and after the first certificate.
@Suite struct ACMESpecTests {
    static func spec(_ acme: String, hosts: String? = "[shop.example.com, www.shop.example.com]", extraTLS: String = "") -> Result<DeploymentSpec, SpecError> {
        let hostsLine = hosts.map { "\n  hosts: \($0)" } ?? ""
        return load(baseSpec.replacingOccurrences(of: "  listen: \"0.0.0.0:8080\"", with: """
              listen: "0.0.0.0:8080"\(hostsLine)
              tls:
                acme: \(acme)\(extraTLS)
            """))
    }

    static func problem(_ result: Result<DeploymentSpec, SpecError>) -> String? {
        guard case .failure(let error) = result else { return nil }
        return error.description
    }

    @Test func anEmptyACMESectionTakesLetsEncryptAndNoContact() throws {
        for text in ["{}", ""] {
            let acme = try #require(try Self.spec(text).get().proxy.tls?.acme, "acme: \(text)")
            #expect(acme.directory == "https://acme-v02.api.letsencrypt.org/directory")
            #expect(acme.email == nil && acme.caFile == nil && acme.timeout == .seconds(120))
        }
    }

    @Test func everyKeyIsRead() throws {
        let tls = try #require(try Self.spec("{email: ops@example.com, directory: \"https://ca.internal:14000/dir\", ca_file: ca/root.pem, timeout: 5m}").get().proxy.tls)
        let acme = try #require(tls.acme)
        #expect(acme.email == "ops@example.com" && acme.directory == "https://ca.internal:14000/dir")
        #expect(acme.caFile == "ca/root.pem" && acme.timeout == .seconds(300))
        #expect(tls.files == nil && tls.redirectHTTP && tls.listen.port == 443)
    }

    @Test func acmeAndFilesAreExclusiveAndEachFileKeyIsNamed() {
        let result = Self.spec("{}", extraTLS: "\n    cert: c.pem\n    key: k.pem")
        let text = Self.problem(result) ?? ""
        #expect(text.contains("proxy.tls.cert: acme: obtains the certificate and key; name files with cert: and key: or use acme:, not both"), "\(text)")
        #expect(text.contains("proxy.tls.key: acme: obtains"), "\(text)")
        let one = Self.problem(Self.spec("{}", extraTLS: "\n    key: k.pem")) ?? ""
        #expect(one.contains("proxy.tls.key: acme:") && !one.contains("proxy.tls.cert"), "\(one)")
    }

    @Test func acmeNeedsHosts() {
        let text = Self.problem(Self.spec("{}", hosts: nil)) ?? ""
        #expect(text.contains("proxy.tls.acme: needs proxy.hosts: the names to certify"), "\(text)")
    }

    @Test func anUnknownKeyIsRefusedWithASuggestion() {
        let text = Self.problem(Self.spec("{emial: ops@example.com}")) ?? ""
        #expect(text.contains("proxy.tls.acme.emial: unknown key \"emial\"; did you mean \"email\"?"), "\(text)")
    }

    @Test(arguments: [
        "ops@example.com", "a@b.co", "first.last+tag@mail.example.org", "o'brien@example.ie",
        String(repeating: "l", count: 64) + "@example.com",
    ])
    func anEmailIsTaken(_ email: String) throws {
        #expect(try Self.spec("{email: \"\(email)\"}").get().proxy.tls?.acme?.email == email)
    }

    @Test(arguments: [
        ("", "expected an email address"),
        ("ops", "expected one @"),
        ("@example.com", "expected one @"),
        ("a@b@example.com", "expected one @"),
        (String(repeating: "l", count: 65) + "@example.com", "expected one @ between a local part of 1–64 characters"),
        ("o ps@example.com", "no spaces, commas or quotes"),
        ("o,ps@example.com", "no spaces, commas or quotes"),
        ("o\\\"ps@example.com", "no spaces, commas or quotes"),
        ("ops@localhost", "needs a dot"),
        ("ops@exa_mple.com", "the domain after @"),
        ("ops@" + String(repeating: "d", count: 64) + ".com", "the domain after @"),
        ("ops@" + [String](repeating: String(repeating: "d", count: 62), count: 4).joined(separator: ".") + ".comm", "at most 254 characters"),
    ])
    func anEmailBreakingOneRuleIsRefused(_ email: String, _ why: String) {
        let text = Self.problem(Self.spec("{email: \"\(email)\"}")) ?? ""
        #expect(text.contains("proxy.tls.acme.email") && text.contains(why), "\(email): \(text)")
    }

    @Test(arguments: [
        "https://acme-staging-v02.api.letsencrypt.org/directory", "https://127.0.0.1:14000/dir",
        "http://127.0.0.1:4001/dir", "http://localhost:4001/dir", "https://ca.internal/acme/acme/directory",
    ])
    func aDirectoryIsTaken(_ url: String) throws {
        #expect(try Self.spec("{directory: \"\(url)\"}").get().proxy.tls?.acme?.directory == url)
    }

    @Test(arguments: [
        ("ftp://ca.example/dir", "expected an https:// URL"),
        ("ca.example/dir", "expected an https:// URL"),
        ("http://ca.example/dir", "plain http:// is accepted for 127.0.0.1 or localhost only"),
        ("http://127.0.0.2/dir", "plain http:// is accepted for 127.0.0.1 or localhost only"),
        ("https:///dir", "expected a host after https://"),
        ("https://user:pw@ca.example/dir", "no user name or password"),
        ("https://ca.example/d ir", "without spaces or control characters"),
        ("https://ca.example/" + String(repeating: "d", count: 2030), "at most 2048 characters"),
    ])
    func aDirectoryBreakingOneRuleIsRefused(_ url: String, _ why: String) {
        let text = Self.problem(Self.spec("{directory: \"\(url)\"}")) ?? ""
        #expect(text.contains("proxy.tls.acme.directory") && text.contains(why), "\(url): \(text)")
    }

    @Test func aDirectoryOfExactly2048CharactersIsTaken() throws {
        let url = "https://ca.example/" + String(repeating: "d", count: 2048 - 19)
        #expect(url.utf8.count == 2048)
        #expect(try Self.spec("{directory: \"\(url)\"}").get().proxy.tls?.acme?.directory == url)
    }

    @Test(arguments: [("10s", true), ("9s", false), ("30m", true), ("31m", false), ("1800s", true), ("1801s", false)])
    func theTimeoutIsTenSecondsToThirtyMinutes(_ text: String, _ taken: Bool) {
        let result = Self.spec("{timeout: \(text)}")
        if taken {
            #expect(Self.problem(result) == nil, "\(text)")
        } else {
            #expect(Self.problem(result)?.contains("proxy.tls.acme.timeout: expected a duration from 10s to 30m") == true, "\(text)")
        }
    }

    @Test func aCAFileWithAControlCharacterIsRefused() {
        let text = Self.problem(Self.spec("{ca_file: \"ca\\u0007.pem\"}")) ?? ""
        #expect(text.contains("proxy.tls.acme.ca_file: expected a file path"), "\(text)")
    }

    @Test(arguments: [":", ","])
    func aCAFileWithDockersMountSeparatorIsRefused(_ separator: String) {
        let text = Self.problem(Self.spec("{ca_file: \"ca\(separator)root.pem\"}")) ?? ""
        #expect(text.contains("proxy.tls.acme.ca_file: a path without '\(separator)'"), "\(text)")
    }

    @Test func theCAFilesPlaceInTheSpecIsKeptForMessagesAboutTheFile() throws {
        let acme = try #require(try Self.spec("{ca_file: ca/root.pem}").get().proxy.tls?.acme)
        #expect(acme.caFile == "ca/root.pem" && acme.caFileMark.line > 1)
    }

    // MARK: Rendering

    static func front(_ result: Result<DeploymentSpec, SpecError>) throws -> DeploymentSpec {
        var spec = try result.get()
        spec.front = FrontPlacement(directory: "/srv/front", container: "front")
        return spec
    }

    @Test func beforeTheFirstCertificateThePartServesPlainHTTPAndTheChallengeAndRedirectsNothing() throws {
        let part = try #require(try ConfigRenderer.builtin().render(Self.front(Self.spec("{}")), tlsFingerprint: nil).files[RenderedConfig.siteFile])
        #expect(!part.contains("ssl_certificate") && !part.contains(" ssl") && !part.contains("return 308"))
        #expect(part.contains("location ^~ /.well-known/acme-challenge/ {"))
        #expect(part.contains("alias /bgctl/conf/projects/shop/acme-challenge/$1;"))
    }

    @Test func withACertificateThePartNamesTheLinkAndAnswersTheChallengeBeforeTheRedirect() throws {
        let fingerprint = String(repeating: "ab", count: 32)
        let part = try #require(try ConfigRenderer.builtin().render(Self.front(Self.spec("{}")), tlsFingerprint: fingerprint).files[RenderedConfig.siteFile])
        #expect(part.contains("ssl_certificate /bgctl/conf/projects/shop/tls/live/cert.pem;"))
        #expect(!part.contains(fingerprint), "a renewal must not change the configuration's bytes")
        let challenge = try #require(part.range(of: "location ^~ /.well-known/acme-challenge/"))
        let redirect = try #require(part.range(of: "return 308"))
        #expect(challenge.lowerBound < redirect.lowerBound)
        // Only on plain HTTP: the HTTPS server has no challenge location.
        #expect(part.components(separatedBy: "acme-challenge/ {").count == 2)
    }

    @Test func aRenewalRendersTheSameBytes() throws {
        let spec = try Self.front(Self.spec("{}"))
        let renderer = try ConfigRenderer.builtin()
        #expect(renderer.render(spec, tlsFingerprint: String(repeating: "a", count: 64))
                == renderer.render(spec, tlsFingerprint: String(repeating: "b", count: 64)))
    }

    @Test func theWatcherRunsByDefaultWithACMEToRenew() throws {
        #expect(try Self.spec("{}").get().watcherEnabled)
        #expect(try !load(baseSpec).get().watcherEnabled)
    }
}
