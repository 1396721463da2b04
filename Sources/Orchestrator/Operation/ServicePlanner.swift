import NginxConfigGen

/// `services`: the live release's other process types. Each runs the live pool's image and
/// environment with its own command; when traffic moves to another pool, its services start and the
/// other pool's stop gracefully, in `services_order`. Pure: decided from what is observed.
public enum ServicePlanner {
    /// Replica `replica` (from 1) of `service` for `pool`: the pool's container settings with the
    /// service's command and variables, no published port, no health check, its own stop timeout.
    public static func container(_ spec: DeploymentSpec, _ service: ServiceSpec, pool: Pool, replica: Int, pull: PullPolicy) -> ContainerConfig {
        var config = StackPlan.poolContainer(spec, pool, pull: pull)
        config.name = spec.serviceContainerName(pool, service.name, replica)
        config.ipAddress = nil
        config.publish = []
        config.health = nil
        config.noHealthcheck = true
        config.labels[Docker.roleLabel] = "service"
        config.labels[Docker.serviceLabel] = service.name
        config.labels[Docker.hashLabel] = nil
        config.environment.merge(service.env) { _, own in own }
        config.environment["BGCTL_SERVICE"] = service.name
        config.environment["BGCTL_REPLICA"] = String(replica)
        config.stopTimeout = Int(service.stopTimeout.seconds.rounded(.up))
        config.command = service.command
        config.labels[Docker.hashLabel] = config.fingerprint
        return config
    }

    /// The container names the spec's services have on either pool: what a switch inspects to find
    /// them (others, of a service removed or replicas cut since, are up's to find by label).
    public static func names(_ spec: DeploymentSpec) -> [String] {
        spec.services.flatMap { service in
            Pool.allCases.flatMap { pool in (0..<service.replicas).map { spec.serviceContainerName(pool, service.name, $0 + 1) } }
        }
    }

    /// The steps that leave `live`'s release running every service's replicas and nothing else of the
    /// services: the containers of the other pool, of replicas past the count, and `strays` (containers
    /// of services no longer in the spec, found by label) are stopped (SIGTERM, the stop timeout, SIGKILL)
    /// and removed; missing, stopped or changed replicas are (re)created. `services_order` decides which
    /// group goes first. Empty when all is as wanted.
    public static func follow(live: Pool, spec: DeploymentSpec, pull: PullPolicy, containers: [String: ContainerInfo],
                              strays: [ContainerInfo] = []) -> [Step] {
        var starts: [Step] = [], stops: [Step] = []
        var wanted = Set<String>()
        for service in spec.services {
            for replica in 0..<service.replicas {
                let config = container(spec, service, pool: live, replica: replica + 1, pull: pull)
                wanted.insert(config.name)
                let existing = containers[config.name]
                if let existing, existing.isRunning, existing.labels[Docker.hashLabel] == config.labels[Docker.hashLabel] { continue }
                var inner: [Step] = []
                if existing != nil { inner.append(Step("remove-\(config.name)", "remove \(config.name) (\(existing?.isRunning == true ? "its settings changed" : "not running"))", .removeContainer(config.name))) }
                inner.append(Step("run-\(config.name)", "start \(config.name): \(service.name) of \(live.rawValue)'s release", .runContainer(config)))
                starts.append(Step("start-\(config.name)", "start \(config.name)", .sequence(inner)))
            }
        }
        let stale = containers.values.filter { $0.labels[Docker.roleLabel] == "service" && !wanted.contains($0.name) } + strays
        for info in Set(stale.map(\.name)).sorted() {
            let item = (containers[info] ?? strays.first { $0.name == info })!
            let timeout = spec.services.first { $0.name == item.labels[Docker.serviceLabel] }.map { Int($0.stopTimeout.seconds.rounded(.up)) } ?? 30
            var inner: [Step] = []
            if item.isRunning { inner.append(Step("stop-\(info)", "stop \(info) gracefully (SIGTERM, at most \(timeout) s, then SIGKILL)", .stopContainer(info, timeout: timeout))) }
            inner.append(Step("remove-\(info)", "remove \(info)", .removeContainer(info)))
            stops.append(Step("retire-\(info)", "retire \(info)", .sequence(inner)))
        }
        let start = starts.isEmpty ? [] : [Step("start-services", "start \(starts.count) service container\(starts.count == 1 ? "" : "s") of \(live.rawValue)", .together(starts))]
        let stop = stops.isEmpty ? [] : [Step("stop-services", "stop \(stops.count) service container\(stops.count == 1 ? "" : "s") \(live == .blue ? "not of blue" : "not of green")", .together(stops))]
        return spec.servicesOrder == .stopFirst ? stop + start : start + stop
    }
}

/// A service as `status` shows it: the release it runs and its containers.
public struct ServiceReport: Sendable, Equatable {
    public struct Container: Sendable, Equatable {
        public var name: String
        public var state: String
    }

    public var name: String
    public var pool: Pool
    public var release: String
    public var containers: [Container]
    public var wanted: Int

    /// Every wanted replica is running.
    public var isRunning: Bool { containers.filter { $0.state == "running" }.count >= wanted }

    /// The spec's services as the live pool should run them, against the containers found.
    public static func make(_ spec: DeploymentSpec, live: Pool, containers: [String: ContainerInfo]) -> [ServiceReport] {
        spec.services.map { service in
            let found = containers.values.filter { $0.labels[Docker.serviceLabel] == service.name }.sorted { $0.name < $1.name }
            return ServiceReport(name: service.name, pool: live, release: spec.pool(live).release,
                                 containers: found.map { Container(name: $0.name, state: $0.state) }, wanted: service.replicas)
        }
    }
}
