import Testing
@testable import NginxConfigGen

/// `proxy.hosts`: each rule of a host name on its own, at its boundary and just past it, and the
/// project's part of the shared front as the renderer writes it.
@Suite struct FrontSpecTests {
    static func spec(hosts: String) -> Result<DeploymentSpec, SpecError> {
        load(baseSpec.replacingOccurrences(of: "  listen: \"0.0.0.0:8080\"", with: "  listen: \"0.0.0.0:8080\"\n  hosts: \(hosts)"))
    }

    static func label(_ count: Int) -> String { String(repeating: "a", count: count) }

    @Test(arguments: [
        "shop.example.com", "localhost", "a", "xn--bcher-kva.example", "1.example", "a-b.c-d",
        label(63) + ".example", [label(63), label(63), label(63), label(61)].joined(separator: "."),
    ])
    func aHostNameIsTaken(_ name: String) throws {
        #expect(try Self.spec(hosts: "[\"\(name)\"]").get().proxy.hosts == [name])
    }

    @Test(arguments: [
        ("", "expected a host name"),
        ("Shop.example.com", "lowercase"),
        ("shop..example", "no empty label"),
        (".shop.example", "no empty label"),
        ("shop.example.", "no empty label"),
        (label(64) + ".example", "at most 63 characters"),
        ([label(63), label(63), label(63), label(62)].joined(separator: "."), "at most 253 characters"),
        ("-shop.example", "neither starts nor ends with a hyphen"),
        ("shop-.example", "neither starts nor ends with a hyphen"),
        ("*.example.com", "no wildcard"),
        ("shop.example.com:8080", "no wildcard, port or scheme"),
        ("shop_x.example", "letters, digits, hyphens and dots only"),
        ("shop example", "letters, digits, hyphens and dots only"),
        ("shop;example", "letters, digits, hyphens and dots only"),
        ("shop{x}", "letters, digits, hyphens and dots only"),
        ("shop$$x", "letters, digits, hyphens and dots only"),  // $$ is a literal $ in the spec
        ("bücher.example", "letters, digits, hyphens and dots only"),
    ])
    func aHostNameBreakingOneRuleIsRefused(_ name: String, _ why: String) {
        guard case .failure(let error) = Self.spec(hosts: "[\"\(name)\"]") else { Issue.record("accepted \(name)"); return }
        #expect(error.description.contains("proxy.hosts[0]") && error.description.contains(why), "\(error)")
    }

    @Test func aNameListedTwiceIsRefused() {
        guard case .failure(let error) = Self.spec(hosts: "[a.example, b.example, a.example]") else { Issue.record("accepted"); return }
        #expect(error.description.contains("proxy.hosts[2]: \"a.example\" is listed twice"), "\(error)")
    }

    @Test func aHundredNamesAreTakenAndOneMoreIsNot() throws {
        let hundred = (0..<100).map { "h\($0).example" }
        #expect(try Self.spec(hosts: "[\(hundred.joined(separator: ", "))]").get().proxy.hosts.count == 100)
        guard case .failure(let error) = Self.spec(hosts: "[\((hundred + ["h100.example"]).joined(separator: ", "))]") else {
            Issue.record("accepted 101"); return
        }
        #expect(error.description.contains("at most 100 names, found 101"))
    }

    static func frontSpec(_ project: String = "shop-eu", tls: Bool = false) throws -> DeploymentSpec {
        var spec = try Self.spec(hosts: "[shop.example.com, www.shop.example.com]").get()
        spec.project = project
        spec.front = FrontPlacement(directory: "/srv/front", container: "front")
        if tls { spec.proxy.tls = TLSSpec(cert: "c.pem", key: "k.pem") }
        return spec
    }

    @Test func thePartNamesItsHostsAndKeepsEveryNginxNameToItself() throws {
        let files = try ConfigRenderer.builtin().render(Self.frontSpec(), tlsFingerprint: nil).files
        let part = try #require(files[RenderedConfig.siteFile])
        #expect(part.contains("server_name shop.example.com www.shop.example.com;"))
        #expect(part.contains("upstream bgctl_shop_eu_blue {") && part.contains("upstream bgctl_shop_eu_green {"))
        #expect(part.contains("log_format bgctl_shop_eu_json"))
        #expect(part.contains("access_log /bgctl/logs/shop-eu/access.log bgctl_shop_eu_json;"))
        #expect(part.contains("if (-f /bgctl/conf/projects/shop-eu/route/current/green)"))
        #expect(part.contains("if (!-e /bgctl/conf/projects/shop-eu/route/current) {\n        return 404;"), "a project that went down answers 404")
        // Every variable the part defines or reads is the project's, but the client's own cookie.
        let variables = part.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == "$") })
            .filter { $0.hasPrefix("$bgctl_") }
        #expect(!variables.isEmpty && variables.allSatisfy { $0.hasPrefix("$bgctl_shop_eu_") }, "\(Set(variables).subtracting(variables.filter { $0.hasPrefix("$bgctl_shop_eu_") }))")
        #expect(!part.contains("default_server"), "the front's wrapper owns the default servers")
    }

    @Test func aPartWithTLSNamesItsOwnCertificateFolderAndSessionCache() throws {
        let part = try #require(try ConfigRenderer.builtin().render(Self.frontSpec(tls: true), tlsFingerprint: "ab12").files[RenderedConfig.siteFile])
        #expect(part.contains("ssl_certificate /bgctl/conf/projects/shop-eu/tls/ab12/cert.pem;"))
        #expect(part.contains("shared:bgctl_shop_eu_tls:10m"))
    }

    @Test func itsMainFileIsTheFrontsWrapperAroundThePartAlone() throws {
        let files = try ConfigRenderer.builtin().render(Self.frontSpec()).files
        let main = try #require(files[RenderedConfig.mainFile])
        #expect(main.contains("include bgctl.conf;") && !main.contains("projects/*"))
        #expect(main.contains("listen 8080 default_server;") && main.contains("return 404;"))
        #expect(!main.contains("ssl_reject_handshake"), "no HTTPS default server without HTTPS")
    }

    @Test func theFrontsWrapperRefusesTheHandshakeForANameNobodyClaims() {
        let wrapper = FrontConfig.wrapper(listen: ListenAddress(host: "0.0.0.0", port: 80), tlsListen: ListenAddress(host: "0.0.0.0", port: 443),
                                          includes: [FrontConfig.everyProject])
        #expect(wrapper.contains("listen 443 ssl default_server;") && wrapper.contains("ssl_reject_handshake on;"))
        #expect(wrapper.contains("include projects/*/bgctl.conf;"))
        #expect(wrapper.contains("server_names_hash_bucket_size 512;"), "a 253-character name fits (256 holds only 238)")
    }

    @Test func aProjectWithItsOwnProxyRendersNoFrontSyntax() throws {
        let part = try #require(try ConfigRenderer.builtin().render(load(baseSpec).get()).files[RenderedConfig.siteFile])
        #expect(!part.contains("server_name") && !part.contains("!-e") && part.contains("upstream bgctl_blue {"))
    }
}
