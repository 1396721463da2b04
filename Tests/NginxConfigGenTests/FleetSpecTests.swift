import Testing
@testable import NginxConfigGen

/// `hosts` and `fleet`; each rule on its own.
@Suite struct FleetSpecTests {
    static func spec(_ text: String) -> Result<DeploymentSpec, SpecError> {
        load(baseSpec + "\n" + text)
    }

    @Test func eachHostIsReachedByAnAddressOrAContext() throws {
        let spec = try Self.spec("""
            hosts:
              - {name: web1, docker: "ssh://deploy@10.0.0.11"}
              - {name: web2, docker: "ssh://web2.example:2222", socket: /run/docker.sock}
              - {name: web3, context: prod-3}
              - {name: web4, docker: "unix:///run/h4/docker.sock", state_root: /srv/bgctl/}
              - {name: web5, docker: "tcp://10.0.0.15:2376"}
            fleet: {flip_timeout: 3s, state_root: /opt/bgctl}

            """).get()
        let fleet = try #require(spec.fleet)
        #expect(fleet.hosts.map(\.name) == ["web1", "web2", "web3", "web4", "web5"])
        #expect(fleet.hosts[0].dockerArguments == ["--host", "ssh://deploy@10.0.0.11"] && fleet.hosts[0].isSSH)
        #expect(fleet.hosts[2].dockerArguments == ["--context", "prod-3"] && !fleet.hosts[2].isSSH)
        #expect(fleet.hosts[0].socket == "/var/run/docker.sock" && fleet.hosts[1].socket == "/run/docker.sock")
        #expect(fleet.hosts[3].socket == "/run/h4/docker.sock", "a unix:// engine's own socket")
        #expect(fleet.hosts[3].stateRoot == "/srv/bgctl")
        #expect(fleet.flipTimeout == .seconds(3) && fleet.stateRoot == "/opt/bgctl")
        #expect(try load(baseSpec).get().fleet == nil)
    }

    @Test(arguments: [
        ("hosts:\n  - {docker: \"ssh://a\"}\n", "hosts[0].name: missing"),
        ("hosts:\n  - {name: Web1, docker: \"ssh://a\"}\n", "hosts[0].name: expected lowercase"),
        ("hosts:\n  - {name: web1, docker: \"ssh://a\"}\n  - {name: web1, docker: \"ssh://b\"}\n", "hosts[1].name: \"web1\" names another host"),
        ("hosts:\n  - {name: web1}\n", "say how to reach it"),
        ("hosts:\n  - {name: web1, docker: \"ssh://a\", context: c}\n", "docker and context both set"),
        ("hosts:\n  - {name: web1, docker: \"http://a\"}\n", "expected ssh://"),
        ("hosts:\n  - {name: web1, docker: \"ssh://-oProxyCommand=x\"}\n", "expected a host name"),
        ("hosts:\n  - {name: web1, docker: \"ssh://-u@a\"}\n", "the ssh user"),
        ("hosts:\n  - {name: web1, docker: \"ssh://a b\"}\n", "expected a host name"),
        ("hosts:\n  - {name: web1, docker: \"ssh://a:0\"}\n", "the port must be 1–65535"),
        ("hosts:\n  - {name: web1, docker: \"ssh://a:65536\"}\n", "the port must be 1–65535"),
        ("hosts:\n  - {name: web1, docker: \"tcp://a\"}\n", "a tcp:// address needs a port"),
        ("hosts:\n  - {name: web1, docker: \"unix://run/x.sock\"}\n", "absolute socket path"),
        ("hosts:\n  - {name: web1, context: \"-x\"}\n", "expected a docker context name"),
        ("hosts:\n  - {name: web1, docker: \"ssh://a\", socket: \"/a:b\"}\n", "hosts[0].socket"),
        ("hosts:\n  - {name: web1, docker: \"ssh://a\", state_root: \"/a/../b\"}\n", "hosts[0].state_root"),
        ("hosts:\n  - {name: web1, docker: \"ssh://a\", port: 22}\n", "hosts[0].port: unknown key"),
        ("hosts:\n  - {name: web1, docker: \"ssh://a\"}\nfleet: {flip_timeout: 0s}\n", "fleet.flip_timeout"),
        ("hosts:\n  - {name: web1, docker: \"ssh://a\"}\nfleet: {flip_timeout: 301s}\n", "at most 5m"),
        ("hosts:\n  - {name: web1, docker: \"ssh://a\"}\nfleet: {state_root: relative}\n", "fleet.state_root: expected an absolute"),
        ("fleet: {flip_timeout: 3s}\n", "fleet settings need hosts"),
        ("hosts:\n  - {name: web1, docker: \"ssh://a\"}\nfleet: {strategy: canary}\n", "fleet.strategy: expected all or rolling"),
        ("hosts:\n  - {name: web1, docker: \"ssh://a\"}\nfleet: {batch: 1}\n", "a batch is for strategy: rolling"),
        ("hosts:\n  - {name: web1, docker: \"ssh://a\"}\nfleet: {strategy: rolling, batch: 0}\n", "fleet.batch"),
        ("hosts:\n  - {name: web1, docker: \"ssh://a\"}\nfleet: {strategy: rolling, batch: 2}\n", "at most the number of hosts (1), found 2"),
        ("hosts:\n  - {name: web1, docker: \"ssh://a\"}\nhooks: {post_switch: [x]}\n", "hooks is not supported with hosts yet"),
        ("hosts:\n  - {name: web1, docker: \"ssh://a\"}\nstate_dir: s\n", "state_dir is not supported with hosts yet"),
    ])
    func aFleetBreakingOneRuleIsRefused(_ text: String, _ why: String) {
        guard case .failure(let error) = Self.spec(text) else { Issue.record("accepted \(text)"); return }
        #expect(error.description.contains(why), "\(error)")
    }

    @Test func sixteenHostsAreTakenAndOneMoreIsNot() throws {
        let hosts = (1...16).map { "  - {name: h\($0), docker: \"ssh://h\($0)\"}\n" }.joined()
        #expect(try Self.spec("hosts:\n" + hosts).get().fleet?.hosts.count == 16)
        guard case .failure(let error) = Self.spec("hosts:\n" + hosts + "  - {name: h17, docker: \"ssh://h17\"}\n") else { Issue.record("accepted 17"); return }
        #expect(error.description.contains("at most 16 hosts, found 17"))
    }

    @Test func theBoundsOfANameAndAPortAreTakenExactly() throws {
        let long = String(repeating: "a", count: 32)
        #expect(try Self.spec("hosts:\n  - {name: \(long), docker: \"ssh://a:65535\"}\n").get().fleet?.hosts.first?.name == long)
        guard case .failure = Self.spec("hosts:\n  - {name: \(long)a, docker: \"ssh://a\"}\n") else { Issue.record("accepted 33"); return }
    }

    @Test func aRollingSwitchTakesABatchUpToTheNumberOfHosts() throws {
        let two = "hosts:\n  - {name: web1, docker: \"ssh://a\"}\n  - {name: web2, docker: \"ssh://b\"}\n"
        let rolling = try #require(try Self.spec(two + "fleet: {strategy: rolling, batch: 2}\n").get().fleet)
        #expect(rolling.strategy == .rolling && rolling.batch == 2)
        let one = try #require(try Self.spec(two + "fleet: {strategy: rolling}\n").get().fleet)
        #expect(one.strategy == .rolling && one.batch == 1, "one host at a time by default")
        #expect(try Self.spec(two).get().fleet?.strategy == .all)
    }
}
