import Foundation
import Testing
@testable import NginxConfigGen
@testable import Orchestrator

/// The plans of a project behind the shared front: joining, changing its part, leaving, and the
/// front going with its last project. Plans only: Tests/e2e/test_front.py runs them on the engine.
@Suite struct FrontPlanTests {
    static let front = FrontPaths(directory: "/srv/front")

    static func spec(_ project: String = "shop", hosts: [String] = ["shop.example.com"]) throws -> DeploymentSpec {
        var spec = try Fixture.spec()
        spec.project = project
        spec.network.name = "\(project)-net"
        spec.proxy.hosts = hosts
        spec.front = FrontPlacement(directory: front.directory, container: "front")
        return spec
    }

    static func paths(_ spec: DeploymentSpec) -> StackPaths { StackPaths(spec: spec, specDirectory: "/srv/\(spec.project)") }

    static func frontInfo(networks: Set<String>) throws -> ContainerInfo {
        var info = World.container(Stack.frontContainer(try registry(), front: front, spec: try spec(), pull: .never), health: nil)
        info.networks = networks
        return info
    }

    /// A front on which blog serves blog.example.com.
    static func registry() throws -> FrontRegistry {
        let blog = try spec("blog", hosts: ["blog.example.com"])
        return FrontRegistry.founded(by: blog, container: "front").claiming(blog, at: "t")
    }

    /// shop's pools up, no part of shop in the front yet; the front running for blog.
    static func joining() throws -> Observed {
        let spec = try spec()
        var observed = Observed(state: nil)
        for pool in Pool.allCases {
            let info = World.container(StackPlan.poolContainer(spec, pool, pull: spec.pull))
            observed.containers[info.name] = info
            observed.probed.insert(pool)
        }
        observed.containers["front"] = try frontInfo(networks: ["bridge", "blog-net"])
        observed.network = .present(labels: [Docker.label: spec.project], subnets: [spec.network.subnet.description])
        observed.route = .missing
        return observed
    }

    static func upPlan(_ observed: Observed, registry: FrontRegistry? = nil) throws -> Plan {
        let spec = try spec()
        return try UpPlanner.plan(.init(pull: .never, specFile: nil, front: registry ?? Self.registry()), spec: spec,
                                  paths: paths(spec), renderer: World.renderer, observed: observed)
    }

    @Test func theProjectsPartLivesInTheFrontsFolderAndItsStateStaysItsOwn() throws {
        let paths = Self.paths(try Self.spec())
        #expect(paths.nginxDir == "/srv/front/conf/projects/shop" && paths.routeDir == "/srv/front/conf/projects/shop/route")
        #expect(paths.accessLog == "/srv/front/logs/shop/access.log" && paths.tlsDir == "/srv/front/conf/projects/shop/tls")
        #expect(paths.stateFile == "/srv/shop/.bgctl/state.json")
    }

    @Test func joiningARunningFrontClaimsTheNamesThenTestsTheWholeSetAndReloadsOnce() throws {
        let names = try Self.upPlan(Self.joining()).names
        #expect(names.contains("connect-front"))
        let claim = try #require(names.firstIndex(of: "claim-front")), install = try #require(names.firstIndex(of: "install"))
        #expect(claim < install, "the names are claimed before the part can serve them")
        #expect(names.contains("nginx-test") && names.filter { $0 == "reload" }.count == 1)
        #expect(!names.contains("start-front") && !names.contains("remove-shop-proxy"))
    }

    @Test func aClaimTheFrontRefusesStopsThePlanBeforeAnyStep() throws {
        let blog = try Self.spec("blog", hosts: ["shop.example.com"])
        let taken = FrontRegistry.founded(by: blog, container: "front").claiming(blog, at: "t")
        #expect { try Self.upPlan(Self.joining(), registry: taken) } throws: {
            "\($0)".contains("shop.example.com is claimed by project blog") && "\($0)".contains("Nothing was changed")
        }
    }

    @Test func withoutAFrontTheFirstProjectWritesTheWrapperAndStartsIt() throws {
        var observed = try Self.joining()
        observed.containers["front"] = nil
        let spec = try Self.spec()
        let founded = FrontRegistry.founded(by: spec, container: "front")
        let plan = try Self.upPlan(observed, registry: founded)
        let front = plan.names.filter { ["claim-front", "write-front", "write-config", "write-route", "start-front", "connect-front",
                                         "wait-proxy", "claim-part", "record"].contains($0) }
        #expect(front == ["claim-front", "write-front", "write-config", "write-route", "start-front", "connect-front", "wait-proxy",
                          "claim-part", "record"], "\(plan.names)")
        guard let start = plan.steps.first(where: { $0.name == "start-front" }), case .runContainer(let config) = start.action else {
            Issue.record("starts the front"); return
        }
        #expect(config.labels[Docker.label] == nil, "no project's down --purge removes the front with its containers")
        #expect(config.mounts == ["/srv/front/conf:/bgctl/conf:ro", "/srv/front/logs:/bgctl/logs"] && config.network == "bridge")
    }

    @Test func aFrontMadeAnewJoinsEveryRegisteredProjectsNetwork() throws {
        var observed = try Self.joining()
        observed.containers["front"] = nil
        let names = try Self.upPlan(observed).names
        #expect(names.contains("connect-front") && names.contains("connect-front-blog-net"), "\(names)")
    }

    @Test func aFrontNobodyUsesThatWasMadeForOtherAddressesIsMadeAnew() throws {
        var observed = try Self.joining()
        observed.containers["front"]?.labels[Docker.hashLabel] = "made-for-other-ports"
        let spec = try Self.spec()
        let names = try Self.upPlan(observed, registry: FrontRegistry.founded(by: spec, container: "front")).names
        let removed = try #require(names.firstIndex(of: "remove-old-front")), started = try #require(names.firstIndex(of: "start-front"))
        #expect(removed < started)
        // With other projects on it, it is never removed by one project's up.
        #expect(!(try Self.upPlan(observed).names.contains("remove-old-front")))
    }

    @Test func aProjectsOwnProxyFromBeforeGoesFirstWhenItMovesOntoTheFront() throws {
        var observed = try Self.joining()
        var own = try Fixture.spec()
        own.project = "shop"
        observed.containers["shop-proxy"] = World.container(StackPlan.proxyContainer(own, paths: World.paths, pull: .never), health: nil)
        let names = try Self.upPlan(observed).names
        let removed = try #require(names.firstIndex(of: "remove-own-proxy"))
        #expect(removed < (names.firstIndex(of: "install") ?? 0))
    }

    @Test func leavingAFrontOthersUseTakesThePartOutWithoutAReload() throws {
        let spec = try Self.spec()
        var observed = try Self.joining()
        observed.containers["front"] = try Self.frontInfo(networks: ["bridge", "blog-net", "shop-net"])
        observed.liveFiles = World.renderer.render(spec).files
        observed.existingPaths = [Self.paths(spec).stateFile]
        let registry = try Self.registry().claiming(spec, at: "t")
        let plan = try DownPlanner.plan(purge: false, spec: spec, paths: Self.paths(spec), observed: observed, front: registry)
        #expect(plan.names.starts(with: ["leave-front", "release-front", "disconnect-front"]), "\(plan.names)")
        #expect(!plan.names.contains("drain-proxy") && !plan.names.contains("remove-front") && !plan.names.contains("reload"))
    }

    @Test func theLastProjectToLeaveTakesTheFrontWithIt() throws {
        let spec = try Self.spec()
        var observed = try Self.joining()
        observed.containers["front"] = try Self.frontInfo(networks: ["bridge", "shop-net"])
        observed.liveFiles = World.renderer.render(spec).files
        let alone = FrontRegistry.founded(by: spec, container: "front").claiming(spec, at: "t")
        let plan = try DownPlanner.plan(purge: false, spec: spec, paths: Self.paths(spec), observed: observed, front: alone)
        #expect(plan.names.starts(with: ["leave-front", "release-front", "drain-proxy", "remove-front"]),
                "its part goes too: the next front on this folder would load it, unclaimed: \(plan.names)")
    }

    @Test func aFrontThatRunsWithoutARegistryHereIsNotTakenDown() throws {
        let spec = try Self.spec()
        var observed = try Self.joining()
        observed.liveFiles = World.renderer.render(spec).files
        #expect { try DownPlanner.plan(purge: false, spec: spec, paths: Self.paths(spec), observed: observed, front: nil) } throws: {
            "\($0)".contains("is BGCTL_FRONT_DIR the one the front was made with?")
        }
    }

    @Test func namesThatStartAnotherProjectsNginxNamesAreRefused() throws {
        let x = try Self.spec("x", hosts: ["x.example"])
        let registry = FrontRegistry.founded(by: x, container: "front").claiming(x, at: "t")
        // x's preview upstream bgctl_x_preview_blue is x-preview's bgctl_x_preview_blue.
        let why = try #require(registry.conflict(with: try Self.spec("x-preview", hosts: ["p.example"])))
        #expect(why.contains("project x on the shared front"))
    }

    @Test func aContainerNamedLikeTheFrontThatBgctlDidNotMakeIsNotTouched() throws {
        var observed = try Self.joining()
        observed.containers["front"]?.labels = [:]
        #expect { try Self.upPlan(observed) } throws: { "\($0)".contains("not created by bgctl") }
    }
}
