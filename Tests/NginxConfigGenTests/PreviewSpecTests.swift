import Testing
@testable import NginxConfigGen

/// `preview: {header, cookie, allow}`: one rule per case, at its boundaries.
@Suite struct PreviewSpecTests {
    func spec(_ preview: String) -> Result<DeploymentSpec, SpecError> {
        load(baseSpec + "\npreview: \(preview)")
    }

    func problems(_ preview: String) -> [String] {
        spec(preview).failureIssues?.map(\.message) ?? []
    }

    @Test func offUnlessTheSpecHasPreview() throws {
        #expect(try load(baseSpec).get().preview == nil)
    }

    @Test func headerAndCookieHaveDefaults() throws {
        let preview = try #require(try spec("{allow: [10.0.0.0/8]}").get().preview)
        #expect(preview.header == "X-Bgctl-Pool" && preview.cookie == "bgctl_pool")
        #expect(preview.allow.map(\.description) == ["10.0.0.0/8"])
    }

    @Test func nullTurnsOneChannelOff() throws {
        #expect(try spec("{header: null, allow: [10.0.0.0/8]}").get().preview?.header == nil)
        #expect(try spec("{cookie: ~, allow: [10.0.0.0/8]}").get().preview?.cookie == nil)
    }

    @Test func bothChannelsOffIsAnError() {
        #expect(problems("{header: null, cookie: null, allow: [10.0.0.0/8]}") == [
            "names neither a header nor a cookie; remove preview: to turn preview routing off"])
    }

    @Test func allowIsRequiredAndNotEmpty() {
        #expect(problems("{header: X-Pool}").first?.hasPrefix("missing; list the client addresses") == true)
        #expect(problems("{allow: []}").first?.hasPrefix("is empty") == true)
    }

    @Test(arguments: ["0.0.0.0/0", "10.0.0.0/8", "192.168.1.7/32", "::/0", "fd00::/8", "2001:db8::/32", "::1/128"])
    func addressRangesAreAccepted(_ text: String) throws {
        #expect(try spec("{allow: [\"\(text)\"]}").get().preview?.allow.map(\.description) == [text])
    }

    /// The warnings heard while loading a valid spec with `allow: [text]`.
    func warnings(allowing text: String) throws -> [SpecIssue] {
        var heard: [SpecIssue] = []
        _ = try SpecLoader.parse(yaml: baseSpec + "\npreview: {allow: [\"\(text)\"]}", file: "bgctl.yaml", variables: [:]) {
            heard.append($0)
        }.get()
        return heard
    }

    @Test(arguments: ["0.0.0.0/0", "128.0.0.0/1", "8.0.0.0/7", "::/0", "2000::/3", "fe00::/7", "fc00::/6"])
    func aRangeWiderThanASlashEightIsAcceptedWithAWarning(_ text: String) throws {
        let heard = try warnings(allowing: text)
        #expect(heard.count == 1, "\(heard)")
        #expect(heard.first?.path == "preview.allow.0" && heard.first?.line == 11)
        #expect(heard.first?.message.hasPrefix("\(text) lets anyone on the internet reach the idle pool") == true, "\(heard)")
    }

    @Test(arguments: ["10.0.0.0/8", "8.0.0.0/8", "192.168.0.0/16", "fc00::/7", "fd00::/8", "2000::/8", "::1/128"])
    func aSlashEightOrNarrowerAndUniqueLocalIPv6AreAcceptedWithoutAWarning(_ text: String) throws {
        #expect(try warnings(allowing: text).isEmpty)
    }

    @Test(arguments: ["10.0.0.1/8", "10.0.0.0/33", "10.0.0.0", "10.0.0/8", "010.0.0.0/8", "10.0.0.0/+8", "fd00::1/8",
                      "fd00::/129", "fe80::1%eth0/64", "::ffff:10.0.0.0/104", "10.0.0.0/8;", "all", "10.0.0.0/ 8"])
    func aRangeThatIsNotCanonicalIsRefused(_ text: String) {
        let found = problems("{allow: [\"\(text)\"]}")
        #expect(found.count == 1 && found[0].hasPrefix("expected an address range such as 10.0.0.0/8"), "\(found)")
    }

    @Test func sixtyFourRangesAreAcceptedAndSixtyFiveAreNot() throws {
        let ranges = (0..<65).map { "\"10.0.\($0).0/24\"" }
        #expect(try spec("{allow: [\(ranges.prefix(64).joined(separator: ", "))]}").get().preview?.allow.count == 64)
        #expect(problems("{allow: [\(ranges.joined(separator: ", "))]}") == ["has 65 ranges; at most 64"])
    }

    @Test(arguments: ["X-Pool", "x-bgctl-pool", "Pool2", String(repeating: "a", count: 64)])
    func headerNamesAreAccepted(_ name: String) throws {
        #expect(try spec("{header: \"\(name)\", allow: [10.0.0.0/8]}").get().preview?.header == name)
    }

    @Test(arguments: ["X_Pool", "X Pool", "X-Pool:", "-X", "X.Pool", "Host", "cookie", "Connection", "Upgrade",
                      String(repeating: "a", count: 65), "Pöol"])
    func aHeaderNameNginxCannotReadOrThatMeansSomethingElseIsRefused(_ name: String) {
        let found = problems("{header: \"\(name)\", allow: [10.0.0.0/8]}")
        #expect(found.count == 1 && found[0].hasPrefix("expected a header name"), "\(found)")
    }

    @Test(arguments: ["bgctl-pool", "pool;", "pool pool", "_pool", String(repeating: "c", count: 65), "$pool"])
    func aCookieNameNginxCannotReadIsRefused(_ name: String) {
        let found = problems("{cookie: \"\(name)\", allow: [10.0.0.0/8]}")
        #expect(found.count == 1 && found[0].hasPrefix("expected a cookie name"), "\(found)")
    }

    @Test func anUnknownKeyIsRefused() {
        #expect(problems("{allow: [10.0.0.0/8], from: [1.2.3.4/32]}").first?.contains("from") == true)
    }

    @Test func theRenderedConfigurationRoutesOnlyWhenPreviewIsOn() throws {
        let off = try ConfigRenderer.builtin().render(try load(baseSpec).get()).files["bgctl.conf"] ?? ""
        #expect(off.contains("proxy_pass http://bgctl_$bgctl_target;") && !off.contains("bgctl_route"))
        let on = try ConfigRenderer.builtin().render(try spec("{allow: [10.0.0.0/8]}").get()).files["bgctl.conf"] ?? ""
        #expect(on.contains("proxy_pass http://$bgctl_upstream;"))
        #expect(on.contains("map $http_x_bgctl_pool $bgctl_preview_header"))
        #expect(on.contains("map $cookie_bgctl_pool $bgctl_preview_cookie"))
        #expect(on.contains("\"route\":\"$bgctl_route\""))
    }
}
