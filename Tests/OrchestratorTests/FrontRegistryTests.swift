import Foundation
import Testing
@testable import NginxConfigGen
@testable import Orchestrator

/// The shared front's registry: who claims which names, and every claim that must be refused.
@Suite struct FrontRegistryTests {
    static func spec(_ project: String, hosts: [String], listen: String = "127.0.0.1:8080", tls: String? = nil,
                     image: String = "bgctl/nginx:local") throws -> DeploymentSpec {
        var yaml = "version: 1\nproject: \(project)\nproxy:\n  image: \(image)\n  listen: \"\(listen)\"\n  hosts: [\(hosts.joined(separator: ", "))]\n"
        if let tls { yaml += "  tls: {listen: \"\(tls)\", cert: c.pem, key: k.pem}\n" }
        yaml += "pools:\n  blue: {image: a, preview_port: 8081}\n  green: {image: b, preview_port: 8082}\n"
        var spec = try SpecLoader.parse(yaml: yaml, file: "bgctl.yaml", variables: [:]).get()
        spec.front = FrontPlacement(directory: "/tmp/front", container: "front")
        return spec
    }

    static func registry() throws -> FrontRegistry {
        FrontRegistry.founded(by: try spec("shop", hosts: ["shop.example.com"], tls: "127.0.0.1:8443"), container: "front")
            .claiming(try spec("shop", hosts: ["shop.example.com", "www.shop.example.com"], tls: "127.0.0.1:8443"), at: "t")
    }

    @Test func aClaimIsSavedAndReadBack() throws {
        let dir = Fixture.tempDir()
        let paths = FrontPaths(directory: dir)
        let registry = try Self.registry()
        try registry.save(paths)
        #expect(try FrontRegistry.load(paths) == registry)
        #expect(try FrontRegistry.load(paths)?.projects["shop"]?.hosts == ["shop.example.com", "www.shop.example.com"])
        #expect(try FrontRegistry.load(FrontPaths(directory: dir + "/none")) == nil)
    }

    @Test func aFileThatIsNoRegistryIsAnErrorNotAnEmptyFront() throws {
        let dir = Fixture.tempDir()
        try "{\"projects\": 3}".write(toFile: dir + "/front.json", atomically: true, encoding: .utf8)
        #expect(throws: OrchestratorError.self) { try FrontRegistry.load(FrontPaths(directory: dir)) }
    }

    @Test func anotherProjectWithOtherNamesOnTheSameAddressesJoins() throws {
        #expect(try Self.registry().conflict(with: Self.spec("blog", hosts: ["blog.example.com"])) == nil)
        #expect(try Self.registry().conflict(with: Self.spec("blog", hosts: ["blog.example.com"], tls: "127.0.0.1:8443")) == nil)
    }

    @Test func theSameProjectMayChangeItsOwnNames() throws {
        #expect(try Self.registry().conflict(with: Self.spec("shop", hosts: ["shop.example.com"], tls: "127.0.0.1:8443")) == nil)
    }

    @Test func aNameAnotherProjectClaimsIsRefusedNamingIt() throws {
        let why = try #require(try Self.registry().conflict(with: Self.spec("blog", hosts: ["blog.example.com", "www.shop.example.com"])))
        #expect(why.contains("www.shop.example.com is claimed by project shop"))
    }

    @Test func anotherListenAddressIsRefusedNamingWhoSetIt() throws {
        let why = try #require(try Self.registry().conflict(with: Self.spec("blog", hosts: ["blog.example.com"], listen: "127.0.0.1:9090")))
        #expect(why.contains("listens on 127.0.0.1:8080 (set by project shop)"))
    }

    @Test func anotherHTTPSAddressIsRefused() throws {
        let why = try #require(try Self.registry().conflict(with: Self.spec("blog", hosts: ["blog.example.com"], tls: "127.0.0.1:9443")))
        #expect(why.contains("serves HTTPS on 127.0.0.1:8443"))
    }

    @Test func HTTPSOnAFrontStartedWithoutItIsRefused() throws {
        let plain = FrontRegistry.founded(by: try Self.spec("shop", hosts: ["shop.example.com"]), container: "front")
            .claiming(try Self.spec("shop", hosts: ["shop.example.com"]), at: "t")
        let why = try #require(try plain.conflict(with: Self.spec("blog", hosts: ["blog.example.com"], tls: "127.0.0.1:8443")))
        #expect(why.contains("started without HTTPS"))
    }

    @Test func anotherProxyImageIsRefused() throws {
        let why = try #require(try Self.registry().conflict(with: Self.spec("blog", hosts: ["blog.example.com"], image: "nginx:1.26")))
        #expect(why.contains("runs bgctl/nginx:local"))
    }

    @Test func projectsWhoseNginxNamesReadAlikeAreRefused() throws {
        let registry = FrontRegistry.founded(by: try Self.spec("a-b", hosts: ["x.example"]), container: "front")
            .claiming(try Self.spec("a-b", hosts: ["x.example"]), at: "t")
        let why = try #require(try registry.conflict(with: Self.spec("a_b", hosts: ["y.example"])))
        #expect(why.contains("could collide"))
    }
}

/// front.json is a file on disk: what it says reaches docker's argv, so it is held to the spec's rules.
@Suite struct FrontRegistryFileTests {
    @Test(arguments: [
        ("\"container\": \"front\"", "\"container\": \"--privileged\""),
        ("\"image\": \"bgctl\\/nginx:local\"", "\"image\": \"--volume=/:/host\""),
        ("\"listen\": \"127.0.0.1:8080\"", "\"listen\": \"8080; evil\""),
        ("\"hosts\": [\"shop.example.com\"]", "\"hosts\": [\"a.example; return 200\"]"),
        ("\"shop\": {", "\"../etc\": {"),
    ])
    func aRegistryWhoseValuesBreakTheSpecsRulesIsRefused(_ good: String, _ bad: String) throws {
        let dir = Fixture.tempDir()
        let paths = FrontPaths(directory: dir)
        let spec = try FrontRegistryTests.spec("shop", hosts: ["shop.example.com"])
        try FrontRegistry.founded(by: spec, container: "front").claiming(spec, at: "t").save(paths)
        let text = try String(contentsOfFile: paths.registry, encoding: .utf8)
        let compact = text.replacingOccurrences(of: " : ", with: ": ").replacingOccurrences(of: "[\n", with: "[")
            .replacingOccurrences(of: "\n      ]", with: "]").replacingOccurrences(of: "        \"", with: "\"")
        #expect(try FrontRegistry.load(FrontPaths(directory: dir)) != nil)
        try #require(compact.contains(good), "\(compact)")
        try compact.replacingOccurrences(of: good, with: bad).write(toFile: paths.registry, atomically: true, encoding: .utf8)
        #expect { try FrontRegistry.load(paths) } throws: { "\($0)".contains("fix or remove it by hand") }
    }
}
