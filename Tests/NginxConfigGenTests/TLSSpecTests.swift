import Foundation
import Testing
@testable import NginxConfigGen

/// `proxy.tls` in the spec, and the server blocks it renders.
@Suite struct TLSSpecTests {
    static let tlsSpec = baseSpec.replacingOccurrences(of: "  listen: \"0.0.0.0:8080\"", with: """
          listen: "0.0.0.0:8080"
          tls:
            cert: certs/fullchain.pem
            key: certs/privkey.pem
        """)

    func spec(_ yaml: String = tlsSpec) throws -> DeploymentSpec {
        try load(yaml).get()
    }

    func issues(_ yaml: String) -> [SpecIssue] {
        guard case .failure(let error) = load(yaml) else { return [] }
        return error.issues
    }

    func replacing(_ line: String, with replacement: String) -> String {
        Self.tlsSpec.replacingOccurrences(of: line, with: replacement)
    }

    // MARK: Spec

    @Test func tlsDefaultsToPort443WithRedirectAndHTTP2AndKeepsWhereTheFilesAreNamed() throws {
        let tls = try #require(try spec().proxy.tls)
        #expect(tls.listen == ListenAddress(host: "0.0.0.0", port: 443))
        #expect(tls.redirectHTTP && tls.http2)
        let files = try #require(tls.files)
        #expect(files.cert == "certs/fullchain.pem" && files.key == "certs/privkey.pem")
        #expect(files.certMark == SpecMark(line: 6, column: 11) && files.keyMark == SpecMark(line: 7, column: 10))
    }

    @Test func noTLSSectionOrAnEmptyOneMeansPlainHTTPOnly() throws {
        #expect(try spec(baseSpec).proxy.tls == nil)
        #expect(try spec(baseSpec.replacingOccurrences(of: "  listen: \"0.0.0.0:8080\"", with: "  listen: \"0.0.0.0:8080\"\n  tls:")).proxy.tls == nil)
    }

    @Test func everyKeyIsRead() throws {
        let yaml = replacing("    key: certs/privkey.pem", with: "    key: /etc/ssl/k.pem\n    listen: \"127.0.0.1:8443\"\n    redirect_http: false\n    http2: no")
        let tls = try #require(try spec(yaml).proxy.tls)
        #expect(tls.listen == ListenAddress(host: "127.0.0.1", port: 8443))
        #expect(!tls.redirectHTTP && !tls.http2 && tls.files?.key == "/etc/ssl/k.pem")
    }

    @Test func relativePathsAreBelowTheSpecsFolderAndAbsoluteOnesStay() {
        #expect(TLSSpec.resolve("certs/a.pem", in: "/srv/shop") == "/srv/shop/certs/a.pem")
        #expect(TLSSpec.resolve("/etc/ssl/a.pem", in: "/srv/shop") == "/etc/ssl/a.pem")
    }

    @Test(arguments: [
        ("    key: certs/privkey.pem", "    key: certs/privkey.pem\n    redirct_http: false",
         "bgctl.yaml:8:5: proxy.tls.redirct_http: unknown key \"redirct_http\"; did you mean \"redirect_http\"?"),
        ("    cert: certs/fullchain.pem\n", "",
         "bgctl.yaml:6:5: proxy.tls.cert: missing; name the certificate file, e.g. \"cert: certs/fullchain.pem\" (or obtain both with acme:)"),
        ("    key: certs/privkey.pem", "    listen: 8443",
         "bgctl.yaml:6:5: proxy.tls.key: missing; name the private key file, e.g. \"key: certs/privkey.pem\" (or obtain both with acme:)"),
        ("    cert: certs/fullchain.pem", "    cert: \"\"",
         "bgctl.yaml:6:11: proxy.tls.cert: expected a file path (not empty, no control characters, at most 4096 bytes), found \"\""),
        ("    key: certs/privkey.pem", "    key: [a, b]",
         "bgctl.yaml:7:10: proxy.tls.key: expected a single value, found a list"),
        ("    key: certs/privkey.pem", "    key: certs/privkey.pem\n    listen: \"0.0.0.0:65536\"",
         "bgctl.yaml:8:13: proxy.tls.listen: expected PORT or IPV4:PORT with a port 1–65535, found \"0.0.0.0:65536\""),
        ("    key: certs/privkey.pem", "    key: certs/privkey.pem\n    listen: \"localhost:443\"",
         "bgctl.yaml:8:13: proxy.tls.listen: expected PORT or IPV4:PORT with a port 1–65535, found \"localhost:443\""),
        ("    key: certs/privkey.pem", "    key: certs/privkey.pem\n    redirect_http: sometimes",
         "bgctl.yaml:8:20: proxy.tls.redirect_http: expected true or false, found \"sometimes\""),
        ("    key: certs/privkey.pem", "    key: certs/privkey.pem\n    http2: 2",
         "bgctl.yaml:8:12: proxy.tls.http2: expected true or false, found \"2\""),
    ])
    func aFaultInTheTLSSectionIsReportedAtItsKey(_ line: String, _ replacement: String, _ expected: String) {
        #expect(issues(replacing(line, with: replacement)).map(\.description) == [expected])
    }

    @Test func aTLSSectionThatIsNoMappingIsRefused() {
        let yaml = baseSpec.replacingOccurrences(of: "  listen: \"0.0.0.0:8080\"", with: "  listen: \"0.0.0.0:8080\"\n  tls: on")
        #expect(issues(yaml).map(\.description) == ["bgctl.yaml:5:8: proxy.tls: expected a mapping, found \"on\""])
    }

    @Test func theHighestPortIsAccepted() throws {
        let yaml = replacing("    key: certs/privkey.pem", with: "    key: certs/privkey.pem\n    listen: 65535")
        #expect(try spec(yaml).proxy.tls?.listen.port == 65535)
    }

    @Test func theHTTPSPortMustDifferFromTheHTTPPort() {
        let yaml = replacing("    key: certs/privkey.pem", with: "    key: certs/privkey.pem\n    listen: \"127.0.0.1:8080\"")
        #expect(issues(yaml).map(\.description) == [
            "bgctl.yaml:8:13: proxy.tls.listen: port 8080 is also proxy.listen's port; HTTPS needs a port of its own, e.g. 443 or 8443",
        ])
    }

    @Test func theDefaultHTTPSPortClashingWithTheHTTPPortIsCalledTheDefault() {
        let yaml = replacing("  listen: \"0.0.0.0:8080\"", with: "  listen: 443")
        #expect(issues(yaml).map(\.description) == [
            "bgctl.yaml:6:5: proxy.tls.listen: port 443 (the default) is also proxy.listen's port; HTTPS needs a port of its own, e.g. 443 or 8443",
        ])
    }

    @Test func theRootAsTheAppsHealthPathIsRefusedOnlyWhenPlainHTTPRedirects() throws {
        let yaml = replacing("  port: 3000", with: "  port: 3000\n  health: {path: /}")
        let found = issues(yaml).map(\.message)
        #expect(found.count == 1 && found[0].hasPrefix("is /, which proxy.tls.redirect_http keeps on plain HTTP"), "\(found)")
        let noRedirect = yaml.replacingOccurrences(of: "    key: certs/privkey.pem", with: "    key: certs/privkey.pem\n    redirect_http: false")
        #expect(try spec(noRedirect).app.health.path == "/")
        #expect(try spec(baseSpec.replacingOccurrences(of: "  port: 3000", with: "  port: 3000\n  health: {path: /}")).app.health.path == "/")
    }

    @Test func aPreviewPortOnTheHTTPSPortIsRefused() {
        let yaml = replacing("preview_port: 8082}", with: "preview_port: 443}")
        #expect(issues(yaml).map(\.description) == [
            "bgctl.yaml:12:57: pools.green.preview_port: 443 is also the proxy's HTTPS port (proxy.tls.listen)",
        ])
    }

    // MARK: Rendering

    func site(_ yaml: String = tlsSpec, fingerprint: String = "f1") throws -> String {
        let config = try ConfigRenderer.builtin().render(spec(yaml), tlsFingerprint: fingerprint)
        return try #require(config.files[RenderedConfig.siteFile])
    }

    /// The text of each `server { … }` block, in order.
    func servers(_ text: String) -> [String] {
        text.components(separatedBy: "\nserver {\n").dropFirst().map { $0.components(separatedBy: "\n}\n")[0] }
    }

    /// The `location / { … }` block of a server.
    func proxyLocation(_ server: String) -> String? {
        server.range(of: "    location / {\n").map { String(server[$0.lowerBound...].prefix { $0 != "}" }) }
    }

    @Test func withoutTLSThereIsOneServer() throws {
        let text = try ConfigRenderer.builtin().render(spec(baseSpec)).files[RenderedConfig.siteFile] ?? ""
        #expect(servers(text).count == 1)
        #expect(!text.contains("ssl"))
    }

    @Test func theHTTPSServerListensWithSSLAndHTTP2AsOneListenParameter() throws {
        let https = try #require(servers(try site()).last)
        #expect(https.hasPrefix("    listen 443 ssl http2;\n"))
        #expect(!https.contains("http2 on;"), "nginx 1.22 does not know the http2 directive")
        for line in ["ssl_certificate /bgctl/tls/f1/cert.pem;", "ssl_certificate_key /bgctl/tls/f1/key.pem;", "ssl_protocols TLSv1.2 TLSv1.3;",
                     "ssl_session_cache shared:bgctl_tls:10m;", "proxy_set_header X-Forwarded-Proto $scheme;", "proxy_pass http://bgctl_$bgctl_target;", "if (-f /bgctl/conf/route/current/green) {"] {
            #expect(https.contains(line), "\(line)")
        }
    }

    @Test func http2OffLeavesItOutOfTheListenLine() throws {
        let yaml = replacing("    key: certs/privkey.pem", with: "    key: certs/privkey.pem\n    http2: false\n    listen: 8443")
        #expect(try servers(try site(yaml)).last?.hasPrefix("    listen 8443 ssl;\n") == true)
    }

    @Test func plainHTTPRedirectsToPort443WithoutNamingIt() throws {
        let http = try #require(servers(try site()).first)
        #expect(http.hasPrefix("    listen 8080;\n"))
        #expect(http.contains("return 308 https://$host$request_uri;"))
        // Only the app's health path is proxied on plain HTTP: bgctl checks the routing through it.
        #expect(http.components(separatedBy: "proxy_pass").count == 2)
        #expect(http.contains("location = /healthz {\n        proxy_pass http://bgctl_$bgctl_target;\n    }"), "\(http)")
    }

    @Test func plainHTTPRedirectsToAnotherPortByNumber() throws {
        let yaml = replacing("    key: certs/privkey.pem", with: "    key: certs/privkey.pem\n    listen: 8443")
        #expect(try servers(try site(yaml)).first?.contains("return 308 https://$host:8443$request_uri;") == true)
    }

    @Test func theHealthPathStaysAnsweredOnPlainHTTPWhenRedirecting() throws {
        let http = try #require(servers(try site()).first)
        let health = try #require(http.range(of: "location = /_bgctl/health {"))
        let redirect = try #require(http.range(of: "return 308"))
        #expect(health.lowerBound < redirect.lowerBound)
        #expect(http.contains("return 200 \"ok\\n\";"))
    }

    @Test func withoutRedirectBothServersProxyWithTheSameLocationText() throws {
        let yaml = replacing("    key: certs/privkey.pem", with: "    key: certs/privkey.pem\n    redirect_http: false")
        let blocks = servers(try site(yaml))
        #expect(blocks.count == 2)
        let locations = blocks.compactMap(proxyLocation)
        #expect(locations.count == 2 && locations[0] == locations[1])
        #expect(locations.first?.contains("proxy_pass http://bgctl_$bgctl_target;") == true)
    }

    @Test func newCertificateFilesChangeTheRenderedConfiguration() throws {
        #expect(try site(fingerprint: "aaaa") != site(fingerprint: "bbbb"))
        #expect(try site(fingerprint: "aaaa").contains("ssl_certificate /bgctl/tls/aaaa/cert.pem;"))
    }

    @Test(arguments: ["../etc", "AAAA", "", "aaaa/../b", String(repeating: "a", count: 65), "fnv1a-"])
    func aFingerprintThatIsNoLowercaseHexNamesNoFolder(_ fingerprint: String) throws {
        let text = try site(fingerprint: fingerprint)
        #expect(text.contains("ssl_certificate /bgctl/tls/none/cert.pem;"))
        #expect(text.contains("ssl_certificate_key /bgctl/tls/none/key.pem;"))
    }

    @Test(arguments: [String(repeating: "a", count: 64), "fnv1a-0f"])
    func theLongestAndTheFallbackFingerprintNameTheirFolder(_ fingerprint: String) throws {
        #expect(try site(fingerprint: fingerprint).contains("ssl_certificate /bgctl/tls/\(fingerprint)/cert.pem;"))
    }

    @Test func theFingerprintDoesNotMatterWithoutTLS() throws {
        let renderer = try ConfigRenderer.builtin()
        let plain = try spec(baseSpec)
        #expect(renderer.render(plain, tlsFingerprint: "aaaa") == renderer.render(plain))
    }
}
