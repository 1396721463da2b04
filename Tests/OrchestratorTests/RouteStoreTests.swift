import Foundation
import Testing
import NginxConfigGen
@testable import Orchestrator

/// nginx/route/ on real files (`LocalFileSystem` in a temp state folder): what bgctl writes is what it
/// reads back, and anything it did not write reads as damaged, never as a route.
@Suite struct RouteStoreTests {
    let stateDir = Fixture.tempDir()
    let stack: Stack

    init() throws {
        stack = try Fixture.stack(runner: ScriptedRunner(), http: ScriptedHTTP(), stateDir: stateDir)
    }

    var fm: FileManager { .default }

    func entries() -> Set<String> { Set((try? fm.contentsOfDirectory(atPath: stack.paths.routeDir)) ?? []) }

    func folder(_ name: String) -> String { (stack.paths.routeDir as NSString).appendingPathComponent(name) }

    func damage(_ reading: RouteReading) -> String? {
        if case .damaged(let why) = reading { return why }
        return nil
    }

    @Test func noLinkIsAMissingRoute() {
        #expect(stack.readRoute() == .missing)
    }

    @Test(arguments: [Route(live: .blue), Route(live: .green),
                      Route(live: .green, canary: CanaryRouting(pool: .blue, percent: 5)),
                      Route(live: .blue, canary: CanaryRouting(pool: .green, percent: 99, sticky: true))])
    func anInstalledRouteReadsBack(_ route: Route) throws {
        try stack.installRoute(route)
        #expect(stack.readRoute() == .route(route))
        #expect(try fm.destinationOfSymbolicLink(atPath: stack.paths.routeLink) == route.folderName, "a relative link, valid inside the proxy too")
        #expect(try fm.contentsOfDirectory(atPath: folder(route.folderName)).sorted() == route.fileNames)
        #expect(entries() == [Route.currentLink, route.folderName], "no temp link or folder left behind")
    }

    @Test func theFolderBeforeIsKeptAndOlderOnesAreRemoved() throws {
        let canary = Route(live: .blue, canary: CanaryRouting(pool: .green, percent: 25))
        try stack.installRoute(Route(live: .blue))
        try stack.installRoute(canary)
        #expect(entries() == [Route.currentLink, "blue", "blue+25"], "a request may still be reading the folder before")
        try stack.installRoute(Route(live: .green))
        #expect(entries() == [Route.currentLink, "blue+25", "green"])
        #expect(stack.readRoute() == .route(Route(live: .green)))
    }

    @Test func goingBackToTheRouteBeforeReusesItsFolder() throws {
        try stack.installRoute(Route(live: .blue))
        let inode = try #require(try fm.attributesOfItem(atPath: folder("blue"))[.systemFileNumber] as? Int)
        try stack.installRoute(Route(live: .green))
        try stack.installRoute(Route(live: .blue))
        #expect(try fm.attributesOfItem(atPath: folder("blue"))[.systemFileNumber] as? Int == inode)
        #expect(stack.readRoute() == .route(Route(live: .blue)) && entries() == [Route.currentLink, "blue", "green"])
    }

    @Test func aFolderWithAFileTooManyIsDamagedAndTheNextInstallRebuildsIt() throws {
        try stack.installRoute(Route(live: .blue))
        fm.createFile(atPath: folder("blue") + "/green", contents: nil)
        #expect(damage(stack.readRoute())?.contains("does not hold the files of the route blue live") == true, "\(stack.readRoute())")
        try stack.installRoute(Route(live: .blue))
        #expect(stack.readRoute() == .route(Route(live: .blue)))
        #expect(try fm.contentsOfDirectory(atPath: folder("blue")) == ["blue"])
    }

    @Test func aFolderMissingABucketIsDamaged() throws {
        try stack.installRoute(Route(live: .blue, canary: CanaryRouting(pool: .green, percent: 5)))
        try fm.removeItem(atPath: folder("blue+5") + "/c4")
        #expect(damage(stack.readRoute()) != nil)
    }

    @Test func aLinkToAFolderThatIsGoneIsDamaged() throws {
        try stack.installRoute(Route(live: .green))
        try fm.removeItem(atPath: folder("green"))
        #expect(damage(stack.readRoute())?.contains("green") == true)
    }

    @Test(arguments: ["/etc", "../../etc", "green.building", "purple", "green/.."])
    func aLinkThatNamesNoRouteIsNotOurs(_ target: String) throws {
        try fm.createDirectory(atPath: stack.paths.routeDir, withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: stack.paths.routeLink, withDestinationPath: target)
        #expect(damage(stack.readRoute())?.contains("names something that is not a route") == true, "\(stack.readRoute())")
        try stack.installRoute(Route(live: .blue))
        #expect(stack.readRoute() == .route(Route(live: .blue)), "up or a switch writes the route again")
    }

    @Test func aFileWhereTheLinkBelongsIsDamaged() throws {
        try fm.createDirectory(atPath: stack.paths.routeDir, withIntermediateDirectories: true)
        fm.createFile(atPath: stack.paths.routeLink, contents: Data("green\n".utf8))
        #expect(damage(stack.readRoute())?.contains("is not a link") == true)
        try stack.installRoute(Route(live: .green))
        #expect(stack.readRoute() == .route(Route(live: .green)))
    }

    @Test func aFolderWhereTheLinkBelongsIsDamagedAndReplaced() throws {
        try fm.createDirectory(atPath: stack.paths.routeLink, withIntermediateDirectories: true)
        fm.createFile(atPath: stack.paths.routeLink + "/green", contents: nil)
        #expect(damage(stack.readRoute())?.contains("is not a link") == true)
        try stack.installRoute(Route(live: .blue))
        #expect(stack.readRoute() == .route(Route(live: .blue)))
    }

    @Test func aHalfBuiltFolderFromAKilledInstallIsNeitherReadNorKept() throws {
        try stack.installRoute(Route(live: .blue))
        // What a SIGKILL while the folder was being built leaves.
        try fm.createDirectory(atPath: folder("green.building"), withIntermediateDirectories: true)
        fm.createFile(atPath: folder("green.building") + "/green", contents: nil)
        #expect(stack.readRoute() == .route(Route(live: .blue)))
        try stack.installRoute(Route(live: .green))
        #expect(entries() == [Route.currentLink, "blue", "green"])
    }
}

/// `docker top` of the proxy as the reload reads it: which workers still accept connections.
@Suite struct ProxyWorkersTests {
    @Test func workersAreToldApartFromTheMasterAndFromThoseShuttingDown() throws {
        let workers = try #require(ProxyWorkers(top: proxyTop([(4301, true), (4302, true), (4410, false), (4411, false)])))
        #expect(workers.accepting == ["4410", "4411"])
        #expect(workers.shuttingDown == ["4301", "4302"])
    }

    @Test func theListingOfARealProxyIsRead() throws {
        // docker top shop-proxy on Docker 20.10, nginx 1.22, worker_processes 2, mid-reload.
        let stdout = """
        UID                 PID                 PPID                C                   STIME               TTY                 TIME                CMD
        root                2061093             2061072             0                   18:20               ?                   00:00:00            nginx: master process /usr/sbin/nginx -p /bgctl/ -e stderr -c /bgctl/conf/nginx.conf
        systemd+            2061140             2061093             0                   18:20               ?                   00:00:01            nginx: worker process is shutting down
        systemd+            2061306             2061093             0                   18:21               ?                   00:00:00            nginx: worker process
        systemd+            2061307             2061093             0                   18:21               ?                   00:00:00            nginx: worker process
        systemd+            2061308             2061093             0                   18:21               ?                   00:00:00            nginx: cache manager process

        """
        let workers = try #require(ProxyWorkers(top: CommandResult(status: 0, stdout: stdout)))
        #expect(workers.accepting == ["2061306", "2061307"])
        #expect(workers.shuttingDown == ["2061140"])
    }

    @Test func thePIDColumnIsFoundByItsHeader() throws {
        let stdout = "PID   USER     TIME  COMMAND\n  1 root      0:00 nginx: master process nginx\n 31 nginx     0:00 nginx: worker process\n"
        #expect(ProxyWorkers(top: CommandResult(status: 0, stdout: stdout))?.accepting == ["31"])
    }

    @Test func aMasterAloneHasNoWorkers() throws {
        let workers = try #require(ProxyWorkers(top: proxyTop([])))
        #expect(workers.accepting.isEmpty && workers.shuttingDown.isEmpty)
    }

    @Test(arguments: [nil, CommandResult(status: 1, stderr: "Error response from daemon: container shop-proxy is not running"),
                      CommandResult(status: 0, stdout: ""), CommandResult(status: 0, stdout: "USER COMMAND\nroot nginx: worker process\n")])
    func noUsableListingIsNoAnswer(_ result: CommandResult?) {
        #expect(ProxyWorkers(top: result) == nil)
    }
}
