import Foundation
import NginxConfigGen
import Support

/// The shared front (`proxy.hosts`): the container, its wrapper, the registry of claims, and the
/// checks that keep one project's part from breaking another's serving.
extension Stack {
    /// The front's folders on the host; nil for a project with its own proxy.
    var front: FrontPaths? { paths.front }

    /// Takes the front's lock for an operation that may change the front; nil without a front or for
    /// a dry run. Waits like the stack's lock does.
    func frontLock(wait: Double) throws -> FrontLock? {
        guard let front, dryRun == nil else { return nil }
        return try FrontLock.acquire(front, wait: wait, clock: ports.clock) {
            report(.waiting("waiting for another project's change to the shared front (\(front.lockFile))"))
        }
    }

    /// The registry as it stands, or as this project would found it.
    func frontRegistry() throws -> FrontRegistry {
        guard let front, let placement = spec.front else { throw OrchestratorError.notUp }
        // A registry its last project left is no front any more: the next project founds it anew.
        guard let registry = try FrontRegistry.load(front), !registry.projects.isEmpty else {
            return FrontRegistry.founded(by: spec, container: placement.container)
        }
        guard registry.container == placement.container else {
            throw OrchestratorError.frontConflict(detail: "the front's registry in \(front.directory) names the container \(registry.container), but BGCTL_FRONT_NAME (or the default) names \(placement.container); every project on one front must see the same BGCTL_FRONT_DIR and BGCTL_FRONT_NAME")
        }
        return registry
    }

    /// The front's container: the host's shared addresses published, conf/ read-only and logs/
    /// writable, on Docker's default bridge (it joins each project's network as the project comes up,
    /// and leaves it when the project goes down). Not labelled with any project: no project's
    /// `down --purge` removes it with its own containers.
    static func frontContainer(_ registry: FrontRegistry, front: FrontPaths, spec: DeploymentSpec, pull: PullPolicy) -> ContainerConfig {
        var publish: [String] = []
        for text in [registry.listen] + (registry.tlsListen.map { [$0] } ?? []) {
            if let listen = ListenAddress(hostPort: text) { publish.append("\(listen.host):\(listen.port):\(listen.port)") }
        }
        var config = ContainerConfig(
            name: registry.container,
            image: registry.image,
            network: "bridge",
            ipAddress: nil,
            pull: pull,
            labels: [Docker.roleLabel: "front"],
            environment: [:],
            publish: publish,
            mounts: ["\(front.confDir):\(FrontConfig.confMount):ro", "\(front.logsDir):\(FrontConfig.logsMount)"],
            tmpfs: ["/bgctl/run", "/bgctl/tmp:mode=1777"],
            health: nil,
            stopSignal: "SIGQUIT",
            stopTimeout: 35,
            entrypoint: StackPlan.nginxBinary,
            command: ["-p", "/bgctl/", "-e", "stderr", "-c", "\(FrontConfig.confMount)/\(RenderedConfig.mainFile)"]
        )
        config.logLimit = StackPlan.logLimit(spec)
        config.labels[Docker.hashLabel] = config.fingerprint
        return config
    }

    /// The wrapper the front starts on: its addresses and every project's installed part.
    static func frontWrapper(_ registry: FrontRegistry) -> String {
        FrontConfig.wrapper(listen: ListenAddress(hostPort: registry.listen) ?? ListenAddress(host: "0.0.0.0", port: 8080),
                            tlsListen: registry.tlsListen.flatMap { ListenAddress(hostPort: $0) }, includes: [FrontConfig.everyProject])
    }

    func writeFrontWrapper(_ text: String) throws {
        guard let front else { return }
        try ports.files.createDirectory(front.projectsDir)
        try ports.files.createDirectory(front.logsDir)
        try ports.files.write(text, to: front.wrapper, mode: 0o644)
    }

    /// `nginx -t` on the candidate beside every other project's installed part: a candidate that is
    /// fine alone but collides with another project (a name, an address's options) is refused here,
    /// before anything is installed.
    func testWholeSet() throws {
        guard let front else { return }
        let others = ((try? FileManager.default.contentsOfDirectory(atPath: front.projectsDir)) ?? [])
            .filter { $0 != spec.project && Syntax.isProjectNameValue($0) }
            .filter { FileManager.default.fileExists(atPath: front.projectFolder($0) + "/" + RenderedConfig.siteFile) }
            .sorted()
        let registry = try frontRegistry()
        let includes = others.map { "\(FrontConfig.projectFolder($0))/\(RenderedConfig.siteFile)" } + [RenderedConfig.siteFile]
        let wrapper = FrontConfig.wrapper(listen: spec.proxy.listen,
                                          tlsListen: registry.tlsListen.flatMap { ListenAddress(hostPort: $0) } ?? spec.proxy.tls?.listen,
                                          includes: includes)
        try ports.files.write(wrapper, to: paths.nextDir + "/" + FrontConfig.wholeSetFile, mode: 0o644)
        let conf = "\(FrontConfig.projectFolder(spec.project))/next/\(FrontConfig.wholeSetFile)"
        let test = try ports.runner.run(Docker.exec(spec.proxyContainerName, StackPlan.nginxBase + ["-c", conf, "-t"]), timeout: 30)
        guard test.succeeded else {
            try? ports.files.remove(paths.nextDir)
            let names = others.isEmpty ? "" : " (beside \(others.joined(separator: ", ")))"
            throw OrchestratorError.configRejected(detail: "alone it passed, with the other projects on the shared front\(names) it did not:\n"
                                                   + (test.stderr + test.stdout).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        report(.done("nginx -t accepted it beside \(others.isEmpty ? "no other project" : others.joined(separator: ", ")) on the shared front"))
    }

    func claimFront() throws {
        guard let front else { return }
        let registry = try frontRegistry()
        if let conflict = registry.conflict(with: spec) { throw OrchestratorError.frontConflict(detail: conflict) }
        let part: [UInt8]?
        if case .bytes(let bytes) = BoundedRead.read(paths.nginxDir + "/" + RenderedConfig.siteFile, limit: 4 << 20) { part = bytes } else { part = nil }
        try registry.claiming(spec, at: ports.clock.timestamp(), part: part).save(front)
    }

    /// Removes the project's claims; the registry goes with the last project.
    func releaseFront() throws {
        guard let front, var registry = try FrontRegistry.load(front) else { return }
        registry.projects[spec.project] = nil
        try registry.save(front)
    }

    /// Takes the project's part out of the front without a reload: the route goes first, so its names
    /// answer 404 from the next request on (the part checks for its route), then its files, so the
    /// next reload (another project's change, a restart) no longer loads it. A reload here would
    /// close every other project's idle connections.
    func leaveFront() throws {
        try ports.files.remove(paths.routeLink)
        try ports.files.remove(paths.routeDir)
        for name in [RenderedConfig.siteFile, RenderedConfig.mainFile] {
            try ports.files.remove(paths.nginxDir + "/" + name)
        }
        try? ports.files.remove(paths.nextDir)
        try? ports.files.remove(paths.challengeDir)
    }
}
