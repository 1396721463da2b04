import NginxConfigGen

/// What `up` does, decided from what is observed: network, both pools, health, the proxy on the
/// rendered configuration, the watcher, the record. Unchanged parts get no step; the live pool's
/// container is never recreated while it serves.
public enum UpPlanner {
    public struct Request: Sendable, Equatable {
        public var pull: PullPolicy
        /// The spec file the watcher container mounts; nil runs no watcher container.
        public var specFile: String?
        /// proxy.tls's certificate and key, checked; required when the spec has proxy.tls.
        public var tls: TLSMaterial?

        /// Behind the shared front: its registry as it stands (or as this project would found it).
        public var front: FrontRegistry?
        /// proxy.tls.acme.ca_file as the host reads it: the watcher mounts it to renew.
        public var acmeCAFile: String?
        /// How the events container would reach the engine; nil: no events container is planned.
        public var events: EventsSource?

        public init(pull: PullPolicy, specFile: String?, tls: TLSMaterial? = nil, front: FrontRegistry? = nil, acmeCAFile: String? = nil,
                    events: EventsSource? = nil) {
            self.events = events
            self.acmeCAFile = acmeCAFile
            self.pull = pull
            self.specFile = specFile
            self.tls = tls
            self.front = front
        }
    }

    /// The project's part of the shared front: the front created or started when it is not running
    /// (which touches no other project's part), attached to the project's network, the route, and the
    /// part itself tested alone and beside the others, installed, reloaded and verified. The claim is
    /// recorded last, once the part serves. True when the front starts in this plan.
    static func frontSteps(_ steps: inout [Step], spec: DeploymentSpec, front: FrontPaths, registry: FrontRegistry,
                           rendered: RenderedConfig, route: Route, routeDiffers: Bool, tlsSteps: [Step], live: Pool,
                           pull: PullPolicy, observed: Observed) throws -> Bool {
        if let conflict = registry.conflict(with: spec) { throw OrchestratorError.frontConflict(detail: conflict) }
        let container = registry.container
        var existing = observed.containers[container]
        let others = registry.projects.filter { $0.key != spec.project }
        if let own = observed.containers[spec.ownProxyContainerName] {
            // Moving onto the front: the project's own proxy gives up its port first. Its open
            // connections close, and requests fail until the front answers on the port.
            let text = "moving onto the shared front: removing \(own.name), which closes its connections; the port changes hands"
            steps += [Step("warn-move", text, .warn(text)),
                      Step("remove-own-proxy", "remove the project's own proxy \(own.name)", .removeContainer(own.name))]
        }
        if let found = existing, found.labels[Docker.roleLabel] != "front" {
            throw OrchestratorError.notOurs(kind: "container", name: container, project: "the shared front")
        }
        let desired = Stack.frontContainer(registry, front: front, spec: spec, pull: pull)
        if let found = existing, others.isEmpty, found.labels[Docker.hashLabel] != desired.labels[Docker.hashLabel] {
            // A front nobody else uses, made for other addresses (a down killed while it drained, say):
            // this project founds it anew rather than join a front that publishes the wrong ports.
            steps.append(Step("remove-old-front", "remove \(found.name): no project uses it and it was made for other addresses",
                              .removeContainer(found.name)))
            existing = nil
        }
        let verify = Step("verify", "check that fresh requests for \(spec.proxy.hosts[0]) through the front reach \(live.rawValue)", .verify(live))
        let connect = Step("connect-front", "attach the shared front to \(spec.network.name)", .connectNetwork(network: spec.network.name, container: container, required: true))
        let claim = Step("claim-front", "record \(spec.proxy.hosts.joined(separator: ", ")) for \(spec.project) in the front's registry", .claimFront)
        let known = registry.projects[spec.project]
        let claimed = known.map { $0.hosts == spec.proxy.hosts && $0.network == spec.network.name && $0.tls == (spec.proxy.tls != nil) } ?? false
        // The names are claimed before the part serves them: a kill after the install never leaves a
        // part whose names another project could claim (nginx only warns about a name served twice).
        if !claimed { steps.append(claim) }
        guard let existing, existing.isRunning else {
            // The front starts on every installed part: this project's is written first, untested
            // (nginx refuses to start on a broken set, and the other parts were tested before).
            steps += tlsSteps
            if existing == nil {
                steps.append(Step("write-front", "write the shared front's wrapper (\(registry.listen)\(registry.tlsListen.map { ", HTTPS \($0)" } ?? ""))",
                                  .writeFrontWrapper(Stack.frontWrapper(registry))))
            }
            steps += [
                Step("write-config", "write \(spec.project)'s part of the front", .writeConfig(rendered)),
                Step("write-route", "write the route: \(route)", .writeRoute(route)),
            ]
            if let existing {
                steps.append(Step("start-front", "start the stopped shared front \(existing.name)", .startContainer(existing.name)))
            } else {
                steps.append(Step("start-front", "start the shared front on \(registry.listen)", .runContainer(desired)))
            }
            if !(existing?.networks.contains(spec.network.name) ?? false) { steps.append(connect) }
            if existing == nil {
                // A front made anew joins every registered project's network, not just this one's.
                for network in others.values.map(\.network).filter({ $0 != spec.network.name && Syntax.isProjectNameValue($0) }).sorted() {
                    steps.append(Step("connect-front-\(network)", "attach the shared front to \(network) (a project registered on it)",
                                      .connectNetwork(network: network, container: container, required: false)))
                }
            }
            steps += [Step("wait-proxy", "wait until the front answers for \(spec.proxy.hosts[0]) and routes to \(live.rawValue)", .waitProxy(live)),
                      Step("claim-part", "record the installed part's digest in the front's registry", .claimFront)]
            return true
        }
        if !existing.networks.contains(spec.network.name) { steps.append(connect) }
        let routeSteps = routeDiffers ? [Step(TrafficStep.route.rawValue, "set the route to \(route) (one rename)", .setRoute(route))] : []
        let changed = observed.liveFiles != rendered.files || !tlsSteps.isEmpty
        if changed {
            steps += tlsSteps + routeSteps
            steps += SwitchPlanner.apply(rendered, what: "\(spec.project)'s part of the front", verify: verify, proxy: existing,
                                         observed: observed, alwaysTest: true)
        } else if !routeSteps.isEmpty {
            steps += routeSteps + [verify]
        }
        // The claim records the installed part's digest too (front status tells an edited part).
        if changed { steps.append(Step("claim-part", "record the installed part's digest in the front's registry", .claimFront)) }
        return false
    }

    public static func plan(_ request: Request, spec: DeploymentSpec, paths: StackPaths, renderer: ConfigRenderer,
                            observed: Observed) throws -> Plan {
        let live = observed.live(spec)
        var steps: [Step] = []
        switch observed.network {
        case .missing:
            steps.append(Step("create-network", "create network \(spec.network.name) (\(spec.network.subnet))",
                              .createNetwork(name: spec.network.name, subnet: spec.network.subnet.description, project: spec.project)))
        case .present(let labels, let subnets):
            guard labels[Docker.label] == spec.project else {
                throw OrchestratorError.notOurs(kind: "network", name: spec.network.name, project: spec.project)
            }
            if !subnets.isEmpty && !subnets.contains(spec.network.subnet.description) {
                throw OrchestratorError.networkSubnetMismatch(network: spec.network.name, found: subnets, wanted: spec.network.subnet.description)
            }
        }
        let folders = ([paths.nginxDir, paths.logsDir] + (spec.proxy.tls?.acme != nil ? [paths.challengeDir] : []))
            .filter { !observed.existingPaths.contains($0) }
        if !folders.isEmpty || observed.state == nil {
            steps.append(Step("create-folders", "create the state folder \(paths.stateDir)", .createDirectories([paths.stateDir] + folders)))
        }

        var poolSteps: [Step] = []
        for pool in Pool.allCases {
            let desired = StackPlan.poolContainer(spec, pool, pull: request.pull)
            let isLive = pool == live && observed.state != nil
            switch StackPlan.poolAction(desired: desired, existing: observed.containers[desired.name], isLive: isLive) {
            case .keep:
                break
            case .create:
                poolSteps.append(Step("start-\(pool.rawValue)", "start \(pool.rawValue) (\(desired.image))", .runContainer(desired)))
            case .start:
                poolSteps.append(Step("start-\(pool.rawValue)", "start the stopped container \(desired.name)", .startContainer(desired.name)))
            case .recreate(let reason):
                poolSteps.append(Step("recreate-\(pool.rawValue)", "recreate \(pool.rawValue): \(reason)", .sequence([
                    Step("remove-\(pool.rawValue)", "remove the old \(pool.rawValue) container", .removeContainer(desired.name)),
                    Step("start-\(pool.rawValue)", "start \(pool.rawValue) (\(desired.image))", .runContainer(desired)),
                ])))
            case .keepChangedLive(let reason):
                let text = "\(pool.rawValue) is live, so its container is kept although \(reason); switch to \(pool.other.rawValue) first (or use bgctl deploy), then run up again"
                steps.append(Step("keep-\(pool.rawValue)", text, .warn(text)))
            }
        }
        // Recreating a pool is remove-then-run in order; different pools start at the same time.
        steps += poolSteps.count > 1 ? [Step("start-pools", "start both pools at the same time", .together(poolSteps))] : poolSteps
        let healthy = Pool.allCases.allSatisfy { observed.isHealthy($0, spec) }
        if !poolSteps.isEmpty || !healthy {
            steps.append(Step("wait-healthy", "wait until \(live.rawValue) (required) and \(live.other.rawValue) are healthy",
                              .waitHealthy(required: [live], optional: [live.other])))
        }

        // With ACME and no certificate yet the configuration serves plain HTTP and the challenge.
        if spec.proxy.tls?.files != nil && request.tls == nil { throw OrchestratorError.tlsNotChecked }
        // New certificate files change the rendered configuration (it carries their fingerprint), so
        // they take the same checked path as any configuration change: nginx -t, then a reload.
        let rendered = renderer.render(spec, tlsFingerprint: request.tls?.fingerprint)
        // up ends a canary a dead deploy left behind, as its recovery does: the live pool alone.
        let route = Route(live: live)
        let routeDiffers = observed.route != .route(route)
        var tlsSteps: [Step] = []
        if let material = request.tls, observed.tlsFingerprint != material.fingerprint || !observed.tlsIntact {
            let folder = "tls/\(material.fingerprint.prefix(12))…/"
            tlsSteps.append(Step("write-tls", "copy the certificate (valid until \(CertificateInfo.format(material.info.notAfter))) and key into \(folder)",
                                 .writeTLS(material)))
            if spec.proxy.tls?.acme != nil {
                tlsSteps.append(Step("link-tls", "point tls/\(TLSLink.name) at \(folder) (the configuration names the link)", .linkTLS(material.fingerprint)))
            }
        }
        let desiredProxy = StackPlan.proxyContainer(spec, paths: paths, pull: request.pull)
        let proxy = observed.containers[spec.proxyContainerName]
        let proxyStarts: Bool
        if let front = paths.front, let registry = request.front {
            proxyStarts = try frontSteps(&steps, spec: spec, front: front, registry: registry, rendered: rendered, route: route,
                                         routeDiffers: routeDiffers, tlsSteps: tlsSteps, live: live, pull: request.pull, observed: observed)
        } else if let proxy, StackPlan.proxyMatches(proxy, desiredProxy, spec: spec), proxy.isRunning {
            proxyStarts = false
            // Files in tls/ that differ from what the live configuration was rendered for (changed by
            // hand, say) need the reload as much as a changed configuration does.
            let verify = Step("verify", "check that fresh requests through the proxy reach \(live.rawValue)", .verify(live))
            let routeSteps = routeDiffers ? [Step(TrafficStep.route.rawValue, "set nginx/route/current to \(route) (one rename)", .setRoute(route))] : []
            if observed.liveFiles != rendered.files || !tlsSteps.isEmpty {
                steps += tlsSteps + routeSteps
                steps += SwitchPlanner.apply(rendered, what: "the configuration", verify: verify, proxy: proxy, observed: observed)
            } else if !routeSteps.isEmpty {
                steps += routeSteps + [verify]
            }
        } else {
            proxyStarts = true
            if let proxy {
                if proxy.isRunning {
                    let text = "recreating the proxy (its container settings changed): connections open now are closed"
                    steps.append(Step("warn-proxy", text, .warn(text)))
                }
                steps.append(Step("remove-proxy", "remove the old proxy", .removeContainer(proxy.name)))
            }
            steps += tlsSteps
            steps += [
                Step("write-config", "write the configuration to nginx/", .writeConfig(rendered)),
                Step("write-route", "write the route: \(route)", .writeRoute(route)),
                Step("start-proxy", "start the proxy on \(spec.proxy.listen)", .runContainer(desiredProxy)),
                Step("wait-proxy", "wait until the proxy answers and routes to \(live.rawValue)", .waitProxy(live)),
                // nginx started on these bytes: as good as a passed nginx -t in this container.
                Step("remember-tested", "remember that this proxy accepted these bytes", .rememberTested(rendered, proxy: nil)),
            ]
        }
        if spec.proxy.tls == nil && observed.existingPaths.contains(paths.tlsDir) {
            // The proxy (recreated above without the mount, as its settings changed) no longer reads them.
            steps.append(Step("remove-tls", "delete the certificate and key copies in tls/ (proxy.tls is off)", .removeFiles([paths.tlsDir])))
        }
        steps += watcherSteps(request, spec: spec, paths: paths, observed: observed, proxyStarts: proxyStarts)
        steps += eventsSteps(request, spec: spec, paths: paths, observed: observed)

        let changes = steps.filter { if case .warn = $0.action { return false }; return true }
        // Pairs installed before: removed once the configuration naming this one is installed and recorded.
        var prune: Step?
        if let material = request.tls, !tlsSteps.isEmpty || observed.tlsEntries.contains(where: { $0 != material.fingerprint && $0 != TLSLink.name }) {
            prune = Step("prune-tls", "delete the certificate and key copies in tls/ that the configuration no longer names",
                         .pruneTLS(keep: material.fingerprint))
        }
        guard !changes.isEmpty || prune != nil || observed.state == nil else {
            return Plan(title: "up", steps: steps, nothingToDo: "nothing to change; \(spec.project) is serving \(live.rawValue) on \(spec.proxy.listen)")
        }
        let detail = changes.filter { $0.name != "remember-tested" && $0.name != "wait-healthy" && $0.name != "wait-proxy" }
            .map(\.description).joined(separator: "; ")
        steps.append(Step("record", "record \(live.rawValue) as live in state.json and the history",
                          .record(Record(live: live, deployed: observed.state?.deployed,
                                         history: changes.isEmpty ? nil : HistoryDraft(action: "up", to: live, result: "ok", detail: detail),
                                         previousSwitch: observed.state?.lastSwitch))))
        if let prune { steps.append(prune) }
        return Plan(title: "up", steps: steps)
    }

    /// The watcher container when `watch.enabled` (default: when an alert sink is configured),
    /// recreated when its settings changed or when the proxy starts in this plan (it lives in the proxy's
    /// PID namespace, which goes with the old proxy container); removed when the watcher is off.
    static func watcherSteps(_ request: Request, spec: DeploymentSpec, paths: StackPaths, observed: Observed,
                             proxyStarts: Bool) -> [Step] {
        let existing = observed.containers[spec.watcherContainerName]
        guard spec.watcherEnabled, let specFile = request.specFile else {
            guard let existing else { return [] }
            return [Step("remove-watcher", "remove the watcher (watch.enabled is off)", .removeContainer(existing.name))]
        }
        let desired = StackPlan.watcherContainer(spec, paths: paths, specFile: specFile, pull: request.pull, acmeCAFile: request.acmeCAFile)
        // events/ too: the watcher mounts it whether or not an events container writes there (the
        // engine may not be local), and docker would otherwise create it as root.
        let folder = Step("watcher-folder", "create the watcher's folder and the events folder it reads",
                          .createDirectories([paths.watcherDir, paths.eventsDir]))
        guard let existing else {
            return [folder, Step("start-watcher", "start the watcher (\(desired.image))", .runContainer(desired))]
        }
        let changed = existing.labels[Docker.hashLabel] != desired.labels[Docker.hashLabel]
        if !changed && !proxyStarts {
            return existing.isRunning ? [] : [Step("start-watcher", "start the stopped watcher", .startContainer(existing.name))]
        }
        let why = changed ? "its settings changed" : "it shares the PID namespace of the proxy, which starts anew"
        return [folder,
                Step("remove-watcher", "remove the old watcher (\(why))", .removeContainer(existing.name)),
                Step("start-watcher", "start the watcher (\(desired.image))", .runContainer(desired))]
    }

    /// The events container beside the watcher (same conditions), when the engine is local over a unix
    /// socket: created, recreated when its settings changed, started when stopped. Otherwise a warning,
    /// and an events container made earlier is left as it is. Removed when the watcher is off.
    static func eventsSteps(_ request: Request, spec: DeploymentSpec, paths: StackPaths, observed: Observed) -> [Step] {
        let existing = observed.containers[spec.eventsContainerName]
        guard spec.watcherEnabled, request.specFile != nil else {
            guard let existing else { return [] }
            return [Step("remove-events", "remove the events container (watch.enabled is off)", .removeContainer(existing.name))]
        }
        switch request.events {
        case nil:
            return []
        case .unavailable(let why)?:
            guard existing == nil else { return [] }
            let text = "no events container: \(why); the watcher will not alert on container events (a pool or the proxy dying)"
            return [Step("warn-events", text, .warn(text))]
        case .socket(let socket)?:
            let desired = StackPlan.eventsContainer(spec, paths: paths, socket: socket, pull: request.pull)
            let folder = Step("events-folder", "create the events folder", .createDirectories([paths.eventsDir]))
            let start = Step("start-events", "start the events container (\(desired.image)), which follows the engine's events for the watcher",
                             .runContainer(desired))
            guard let existing else { return [folder, start] }
            if existing.labels[Docker.hashLabel] == desired.labels[Docker.hashLabel] {
                return existing.isRunning ? [] : [Step("start-events", "start the stopped events container", .startContainer(existing.name))]
            }
            return [folder, Step("remove-events", "remove the old events container (its settings changed)", .removeContainer(existing.name)), start]
        }
    }
}

/// How the events container reaches the engine, as the command that plans `up` found it.
public enum EventsSource: Sendable, Equatable {
    /// The local engine's unix socket on the host, mounted into the events container.
    case socket(String)
    /// No local unix socket to mount; why, for the warning (`DOCKER_HOST is tcp://…`).
    case unavailable(String)
}
