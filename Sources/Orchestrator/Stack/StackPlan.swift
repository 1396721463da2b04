import NginxConfigGen
import Support

/// Pure functions from the spec to the containers bgctl runs and the actions `up` takes.
public enum StackPlan {
    public static let nginxBinary = "/usr/sbin/nginx"
    static let nginxBase = [nginxBinary, "-p", "/bgctl/", "-e", "stderr"]

    public static func poolContainer(_ spec: DeploymentSpec, _ pool: Pool, pull: PullPolicy) -> ContainerConfig {
        let poolSpec = spec.pool(pool)
        var environment = spec.app.env.merging(poolSpec.env) { _, poolValue in poolValue }
        environment["APP_POOL"] = pool.rawValue
        environment["RELEASE_ID"] = poolSpec.release
        environment["PORT"] = String(spec.app.port)
        var config = ContainerConfig(
            name: spec.containerName(pool),
            image: poolSpec.image,
            network: spec.network.name,
            ipAddress: spec.address(of: pool),
            pull: pull,
            labels: [Docker.label: spec.project, Docker.roleLabel: "pool", Docker.poolLabel: pool.rawValue,
                     "io.bgctl.release": poolSpec.release],
            environment: environment,
            publish: ["127.0.0.1:\(poolSpec.previewPort):\(spec.app.port)"],
            mounts: [],
            tmpfs: [],
            health: ContainerConfig.Health(command: nil,
                                           interval: spec.app.health.interval.description,
                                           timeout: spec.app.health.timeout.description,
                                           retries: spec.app.health.retries,
                                           startPeriod: spec.app.health.startPeriod.description),
            stopSignal: nil,
            stopTimeout: 10,
            entrypoint: nil,
            command: []
        )
        config.logLimit = logLimit(spec)
        config.labels[Docker.hashLabel] = config.fingerprint
        return config
    }

    /// Where the proxy finds the certificate and key (the templates name /bgctl/tls/<fingerprint>/cert.pem and key.pem).
    public static let tlsMount = "/bgctl/tls"

    /// With proxy.tls the proxy also publishes the HTTPS port and mounts tls/. The files' contents are
    /// not part of the container's settings: new files are a reload, not a new container.
    public static func proxyContainer(_ spec: DeploymentSpec, paths: StackPaths, pull: PullPolicy) -> ContainerConfig {
        let port = spec.proxy.listen.port
        var publish = ["\(spec.proxy.listen.host):\(port):\(port)"]
        var mounts = ["\(paths.nginxDir):/bgctl/conf:ro", "\(paths.logsDir):/bgctl/logs"]
        if let tls = spec.proxy.tls {
            publish.append("\(tls.listen.host):\(tls.listen.port):\(tls.listen.port)")
            mounts.append("\(paths.tlsDir):\(tlsMount):ro")
        }
        var config = ContainerConfig(
            name: spec.proxyContainerName,
            image: spec.proxy.image,
            network: spec.network.name,
            ipAddress: nil,
            pull: pull,
            labels: [Docker.label: spec.project, Docker.roleLabel: "proxy"],
            environment: [:],
            publish: publish,
            mounts: mounts,
            tmpfs: ["/bgctl/run", "/bgctl/tmp:mode=1777"],
            // No health check inside: the image needs nothing but nginx. bgctl checks the proxy from
            // outside, through the published port (wait-proxy, status).
            health: nil,
            stopSignal: "SIGQUIT",
            stopTimeout: Int(spec.proxy.shutdownTimeout.seconds.rounded(.up)) + 5,
            entrypoint: nginxBinary,
            command: ["-p", "/bgctl/", "-e", "stderr", "-c", "/bgctl/conf/nginx.conf"]
        )
        config.logLimit = logLimit(spec)
        config.labels[Docker.hashLabel] = config.fingerprint
        return config
    }

    /// Whether a running proxy container was made from `desired`. Proxies made by bgctl 0.1 carry a
    /// health check run inside the image (`wget`); apart from that they equal today's, so they are kept
    /// rather than recreated on upgrade (a recreate closes every open connection).
    public static func proxyMatches(_ existing: ContainerInfo, _ desired: ContainerConfig, spec: DeploymentSpec) -> Bool {
        let label = existing.labels[Docker.hashLabel]
        if label == desired.labels[Docker.hashLabel] { return true }
        var legacy = desired
        legacy.health = ContainerConfig.Health(
            command: "wget -q -O /dev/null http://127.0.0.1:\(spec.proxy.listen.port)\(spec.proxy.healthPath) || exit 1",
            interval: "1s", timeout: "1s", retries: 3, startPeriod: "1s")
        return label == legacy.fingerprint
    }

    /// Docker's json-file log of every bgctl container (nginx's error log goes there) bounded like the
    /// access log: `logs.keep` files of `logs.max_size`.
    static func logLimit(_ spec: DeploymentSpec) -> ContainerConfig.LogLimit {
        ContainerConfig.LogLimit(maxSize: spec.logs.maxSize.dockerSize, maxFiles: spec.logs.keep)
    }

    /// The watcher: `bgctl watch` in its own container on the host network (it only sends alerts out),
    /// with the spec read-only, its own folder for status and tail position, and the proxy's logs
    /// writable: it rotates the access log. It shares the proxy's PID namespace, where the nginx master
    /// is PID 1, so `--rotate-pid 1` reaches it with USR1 (both run as root). A namespace dies with its
    /// container, so `up` recreates the watcher whenever it (re)creates the proxy.
    /// Secrets reach it as environment values passed to docker, never as arguments or image content.
    /// `acmeCAFile`: proxy.tls.acme.ca_file as the host reads it, mounted for the watcher's renewals.
    public static func watcherContainer(_ spec: DeploymentSpec, paths: StackPaths, specFile: String, pull: PullPolicy,
                                        acmeCAFile: String? = nil) -> ContainerConfig {
        var config = ContainerConfig(
            name: spec.watcherContainerName,
            image: spec.watch.image,
            network: "host",
            ipAddress: nil,
            pull: pull,
            // The watcher reads the spec once, at start: the metrics address is in its fingerprint so
            // that `up` recreates it when the address changes.
            labels: [Docker.label: spec.project, Docker.roleLabel: "watcher",
                     "io.bgctl.metrics": spec.watch.metrics.enabled ? spec.watch.metrics.listen.description : "off"],
            environment: spec.watcherVariables.mapValues(\.revealed),
            publish: [],
            // The route, writable: the watcher moves traffic off a live pool that stopped answering.
            // The events container's file, read-only: the watcher itself has no Docker socket.
            mounts: ["\(specFile):/bgctl/bgctl.yaml:ro", "\(paths.logsDir):/bgctl/logs", "\(paths.watcherDir):/bgctl/watcher",
                     "\(paths.routeDir):/bgctl/route", "\(paths.eventsDir):/bgctl/events:ro"],
            tmpfs: [],
            health: nil,
            stopSignal: nil,
            stopTimeout: 15,
            entrypoint: "/usr/local/bin/bgctl",
            command: ["-f", "/bgctl/bgctl.yaml", "watch", "--log", "/bgctl/logs/access.log", "--watcher-dir", "/bgctl/watcher",
                      "--rotate-pid", "1", "--route", "/bgctl/route", "--events", "/bgctl/events/\(EventLog.fileName)"]
        )
        if let acme = spec.proxy.tls?.acme {
            // Renewal (see CertificateRenewal): the store, the challenge folder the proxy serves and the
            // proxy's tls/, writable; never the configuration.
            config.mounts += ["\(paths.acmeDir):/bgctl/acme", "\(paths.challengeDir):/bgctl/\(FrontConfig.challengeFolder)",
                              "\(paths.tlsDir):/bgctl/tls"]
            config.command += ["--acme", "/bgctl"]
            // It reads the spec once: the names and CA settings `up` applied, in its command (so in its
            // fingerprint), make `up` recreate it when they change; a watcher whose spec file says
            // otherwise (edited, then the container restarted) renews nothing until `up` ran.
            config.command += ["--acme-settings", acmeSettings(spec, acme)]
            if let caFile = acmeCAFile {
                config.mounts.append("\(caFile):/bgctl/acme-ca.pem:ro")
                config.command += ["--acme-ca", "/bgctl/acme-ca.pem"]
            }
        }
        config.pidNamespace = "container:\(spec.proxyContainerName)"
        // It parses internet-controlled text: no capability but binding a metrics port below 1024
        // (root in the container still owns the files it writes and may signal nginx's root master),
        // no new privileges, a read-only root. Host networking stays: its metrics listener and alert
        // targets are the host's addresses (a Prometheus or receiver on the host's loopback).
        let lowPort = spec.watch.metrics.enabled && spec.watch.metrics.listen.port < 1024
        config.confinement = ContainerConfig.Confinement(capabilities: lowPort ? ["NET_BIND_SERVICE"] : [], readOnly: true)
        config.tmpfs = ["/tmp:size=16m"]
        config.logLimit = logLimit(spec)
        config.labels[Docker.hashLabel] = config.fingerprint
        return config
    }

    /// The events container: `bgctl events` (the watcher's image), the one bgctl container with the
    /// engine's socket, which is root on the host. So it is kept apart from the watcher, which parses
    /// text from the internet: it reads nothing but the engine's event stream, filtered to this project,
    /// and writes checked, bounded lines to events/ (`EventLog`), which the watcher mounts read-only.
    /// No network at all (the socket is a file), no capability, no new privileges, a read-only root.
    /// `socket`: the engine's unix socket on the host.
    public static func eventsContainer(_ spec: DeploymentSpec, paths: StackPaths, socket: String, pull: PullPolicy) -> ContainerConfig {
        var config = ContainerConfig(
            name: spec.eventsContainerName,
            image: spec.watch.image,
            network: "none",
            ipAddress: nil,
            pull: pull,
            labels: [Docker.label: spec.project, Docker.roleLabel: "events"],
            environment: [:],
            publish: [],
            mounts: ["\(socket):\(eventsSocket):ro", "\(paths.eventsDir):/bgctl/events"],
            tmpfs: [],
            health: nil,
            stopSignal: nil,
            stopTimeout: 5,
            entrypoint: "/usr/local/bin/bgctl",
            command: ["events", "--project", spec.project, "--socket", eventsSocket, "--out", "/bgctl/events"]
        )
        config.confinement = ContainerConfig.Confinement(capabilities: [], readOnly: true)
        config.logLimit = logLimit(spec)
        config.labels[Docker.hashLabel] = config.fingerprint
        return config
    }

    /// Where the events container sees the engine's socket.
    public static let eventsSocket = "/bgctl/docker.sock"

    /// A digest of what an issuance depends on: the names and the CA settings.
    public static func acmeSettings(_ spec: DeploymentSpec, _ acme: ACMESpec) -> String {
        String(FNV1a.hash(spec.proxy.hosts + [acme.directory, acme.email ?? "", acme.caFile ?? "", acme.timeout.description],
                          separator: "\u{1F}"), radix: 16)
    }

    /// `nginx -t` on the candidate configuration in nginx/next/ (mounted at /bgctl/conf/next).
    public static func nginxTest(_ spec: DeploymentSpec, candidate: Bool) -> DockerCommand {
        // Behind the shared front: the project's part alone, in the wrapper rendered beside it.
        let base = spec.front == nil ? "/bgctl/conf" : FrontConfig.projectFolder(spec.project)
        let conf = candidate ? "\(base)/next/nginx.conf" : "\(base)/nginx.conf"
        return Docker.exec(spec.proxyContainerName, nginxBase + ["-c", conf, "-t"])
    }

    /// SIGHUP to the proxy's PID 1, the nginx master: a graceful reload. Sent through the engine's API
    /// rather than `docker exec nginx -s reload`, which costs a process start in the container (~40 ms).
    public static func nginxReload(_ spec: DeploymentSpec) -> DockerCommand {
        Docker.signal(spec.proxyContainerName, "HUP")
    }

    /// What `up` does with one pool's container.
    public enum PoolAction: Sendable, Equatable {
        case create
        case keep
        case start
        case recreate(reason: String)
        /// The spec changed but the pool is live: bgctl will not recreate the container serving traffic.
        case keepChangedLive(reason: String)
    }

    public static func poolAction(desired: ContainerConfig, existing: ContainerInfo?, isLive: Bool) -> PoolAction {
        guard let existing else { return .create }
        if existing.labels[Docker.hashLabel] != desired.labels[Docker.hashLabel] {
            var reason = "its spec changed"
            if existing.image != desired.image { reason = "image \(existing.image) → \(desired.image)" }
            else if existing.labels["io.bgctl.release"] != desired.labels["io.bgctl.release"] {
                reason = "release \(existing.labels["io.bgctl.release"] ?? "?") → \(desired.labels["io.bgctl.release"] ?? "?")"
            }
            return isLive && existing.isRunning ? .keepChangedLive(reason: reason) : .recreate(reason: reason)
        }
        if existing.state == "running" || existing.state == "restarting" { return .keep }
        return .start
    }
}
