import Foundation
import Support

/// One of the two colours. bgctl knows exactly two pools.
public enum Pool: String, CaseIterable, Sendable, Codable, Comparable {
    case blue
    case green

    public var other: Pool { self == .blue ? .green : .blue }

    public static func < (lhs: Pool, rhs: Pool) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A value that must never be printed: its description is redacted; read `revealed` only where it is used.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public let revealed: String

    public init(_ value: String) {
        self.revealed = value
    }

    public var isEmpty: Bool { revealed.isEmpty }
    public var description: String { revealed.isEmpty ? "" : "<redacted>" }
    public var debugDescription: String { description }
}

/// When bgctl asks Docker to pull an image.
public enum PullPolicy: String, Sendable, CaseIterable, Codable {
    case missing
    case always
    case never
}

/// An IPv4 host address and port, as in `0.0.0.0:8080`.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { "\(host):\(port)" }

    /// IPV4:PORT with both given (port 1–65535): no default host, so nothing is opened to the network by omission.
    public init?(hostPort text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let host = String(text[..<colon])
        guard let port = Syntax.integer(text[text.index(after: colon)...]), (1...65535).contains(port),
              IPv4Subnet.parseAddress(host) != nil else { return nil }
        self.init(host: host, port: port)
    }
}

/// An IPv4 network in CIDR form on which bgctl gives each pool a fixed address.
public struct IPv4Subnet: Sendable, Hashable, CustomStringConvertible {
    public let octets: [UInt8]
    public let prefixLength: Int

    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let prefix = Syntax.integer(parts[1]), (16...28).contains(prefix),
              let octets = IPv4Subnet.parseAddress(String(parts[0])) else { return nil }
        let value = octets.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - UInt32(prefix))
        guard value & ~mask == 0 else { return nil }
        self.octets = octets
        self.prefixLength = prefix
    }

    static func parseAddress(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var octets: [UInt8] = []
        for part in parts {
            // No leading zeros: some tools read "010" as octal 8.
            guard part.count <= 3, let number = Syntax.integer(part), let value = UInt8(exactly: number) else { return nil }
            octets.append(value)
        }
        return octets
    }

    /// The address `offset` hosts into the network (offset 1 is the gateway Docker takes).
    public func host(_ offset: Int) -> String {
        let base = octets.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let value = base + UInt32(offset)
        return [24, 16, 8, 0].map { String((value >> UInt32($0)) & 0xff) }.joined(separator: ".")
    }

    public var description: String { "\(octets.map(String.init).joined(separator: ".") )/\(prefixLength)" }

    /// A stable /24 inside 172.29.0.0/16 chosen from the project name, so that projects on one host
    /// rarely collide; `network.subnet` overrides it.
    public static func derived(from project: String) -> IPv4Subnet {
        IPv4Subnet(parsing: "172.29.\(FNV1a.hash32(project) % 256).0/24")!
    }
}

public struct HealthSpec: Sendable, Hashable {
    public var path = "/healthz"
    public var interval = SpecDuration.seconds(5)
    public var timeout = SpecDuration.seconds(3)
    public var retries = 3
    public var startPeriod = SpecDuration.seconds(10)
    public init() {}
}

public struct AppSpec: Sendable, Hashable {
    public var port = 3000
    public var health = HealthSpec()
    public var env: [String: String] = [:]
    public init() {}
}

public struct PoolSpec: Sendable, Hashable {
    public var image = ""
    public var release = ""
    public var previewPort = 0
    public var env: [String: String] = [:]
    public init() {}
}

public struct ProxySpec: Sendable, Hashable {
    public var image = "nginx:1.28"
    public var listen = ListenAddress(host: "0.0.0.0", port: 8080)
    public var connectTimeout = SpecDuration(milliseconds: 250)
    public var readTimeout = SpecDuration.seconds(3)
    public var retryOn = ["error", "timeout", "http_502", "http_503", "http_504"]
    public var retryNonIdempotent = false
    public var retryTries = 2
    public var retryTimeout = SpecDuration.seconds(10)
    public var maxFails = 1
    public var failTimeout = SpecDuration.seconds(10)
    public var keepalive = 32
    public var shutdownTimeout = SpecDuration.seconds(30)
    public var healthPath = "/_bgctl/health"
    public var workerProcesses = "auto"
    public var workerConnections = 1024
    /// HTTPS beside plain HTTP; nil: plain HTTP only.
    public var tls: TLSSpec?
    /// The names the host's shared front routes to this project; empty: the project runs its own proxy.
    public var hosts: [String] = []
    public static let maxHosts = 100
    public init() {}
}

/// Where the host's shared front lives (see `proxy.hosts`): one per host, whoever's project made it.
/// Not in the spec: it is the host's, and every project on the host must name the same one.
public struct FrontPlacement: Sendable, Hashable {
    public static let defaultDirectory = "/var/lib/bgctl/front"
    public static let defaultContainer = "bgctl-front"
    /// Its files: conf/ (mounted read-only), logs/, front.json, lock.
    public var directory: String
    public var container: String

    public init(directory: String = Self.defaultDirectory, container: String = Self.defaultContainer) {
        self.directory = directory
        self.container = container
    }

    /// BGCTL_FRONT_DIR and BGCTL_FRONT_NAME, for a host that runs more than one front (or a test).
    public static func from(environment: [String: String]) -> FrontPlacement {
        var placement = FrontPlacement()
        if let dir = environment["BGCTL_FRONT_DIR"], dir.hasPrefix("/"), dir.utf8.count <= 1024 { placement.directory = dir }
        if let name = environment["BGCTL_FRONT_NAME"], Syntax.isProjectNameValue(name) { placement.container = name }
        return placement
    }
}

/// A line and column in the spec, kept where a later check of something the spec names (a file)
/// must point back at the key that named it.
public struct SpecMark: Sendable, Hashable {
    public let line: Int
    public let column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
}

/// `proxy.tls`: nginx terminates TLS with a certificate and key read from files, or obtained by ACME.
/// bgctl checks the pair (`TLSFiles`) and copies it into its state folder, which the proxy mounts read-only.
public struct TLSSpec: Sendable, Hashable {
    /// Where the certificate and key come from: exactly one of the two.
    public enum Source: Sendable, Hashable {
        case files(TLSFileSource)
        case acme(ACMESpec)
    }

    public var listen = ListenAddress(host: "0.0.0.0", port: 443)
    public var source: Source
    /// Plain HTTP answers with a 308 to HTTPS, except the proxy's health path (and the ACME challenge).
    public var redirectHTTP = true
    public var http2 = true

    public init(cert: String, key: String, certMark: SpecMark = SpecMark(line: 1, column: 1),
                keyMark: SpecMark = SpecMark(line: 1, column: 1)) {
        self.source = .files(TLSFileSource(cert: cert, key: key, certMark: certMark, keyMark: keyMark))
    }

    public init(acme: ACMESpec) {
        self.source = .acme(acme)
    }

    /// The files `cert` and `key` name; nil for ACME.
    public var files: TLSFileSource? {
        if case .files(let files) = source { return files }
        return nil
    }

    /// The ACME settings; nil for files.
    public var acme: ACMESpec? {
        if case .acme(let acme) = source { return acme }
        return nil
    }

    /// `path` as the host reads it: absolute as written, else below `specDirectory`.
    public static func resolve(_ path: String, in specDirectory: String) -> String {
        path.hasPrefix("/") ? path : (specDirectory as NSString).appendingPathComponent(path)
    }
}

/// `proxy.tls.cert` and `proxy.tls.key`: files the operator provides and renews.
public struct TLSFileSource: Sendable, Hashable {
    /// As written, relative to the spec's folder unless absolute: PEM, the leaf first, then any chain.
    public var cert: String
    /// As written, relative to the spec's folder unless absolute: an unencrypted PEM private key.
    public var key: String
    /// Where `cert` and `key` are written in the spec.
    public var certMark: SpecMark
    public var keyMark: SpecMark

    public init(cert: String, key: String, certMark: SpecMark = SpecMark(line: 1, column: 1), keyMark: SpecMark = SpecMark(line: 1, column: 1)) {
        self.cert = cert
        self.key = key
        self.certMark = certMark
        self.keyMark = keyMark
    }
}

/// `proxy.tls.acme`: one certificate for all of `proxy.hosts`, from an ACME server (RFC 8555) over
/// HTTP-01, which the front answers from a folder bgctl writes.
public struct ACMESpec: Sendable, Hashable {
    public static let letsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"
    public var directory = ACMESpec.letsEncrypt
    /// The account's contact address; nil registers an account without one.
    public var email: String?
    /// The CA that signs the ACME server's own certificate (a private CA, Pebble); nil: the system's.
    /// As written, relative to the spec's folder unless absolute.
    public var caFile: String?
    /// Where `ca_file` stands in the spec, for messages about the file.
    public var caFileMark = SpecMark(line: 1, column: 1)
    /// How long `up` waits for an issuance before it leaves the stack on plain HTTP.
    public var timeout = SpecDuration.seconds(120)

    public init(directory: String = ACMESpec.letsEncrypt, email: String? = nil, caFile: String? = nil) {
        self.directory = directory
        self.email = email
        self.caFile = caFile
    }
}

public struct NetworkSpec: Sendable, Hashable {
    public var name: String
    public var subnet: IPv4Subnet
}

public struct WatchSpec: Sendable, Hashable {
    public var enabled: Bool?
    public var image = "bgctl/bgctl:local"
    public var log = ""
    public var window = 200
    public var windowSeconds = 60
    public var minRequests = 20
    public var errorRateThreshold = 2.0
    public var count4xx = false
    public var ignorePaths: [String] = []
    public var cooldown = SpecDuration.seconds(300)
    public var maintenance = false
    public var metrics = MetricsSpec()
    public init() {}
}

/// Where the long-running watcher serves `GET /metrics` (Prometheus text format).
public struct MetricsSpec: Sendable, Hashable {
    public static let defaultListen = ListenAddress(host: "127.0.0.1", port: 9464)

    public var enabled = true
    public var listen = MetricsSpec.defaultListen
    public init() {}

    /// True for 127.0.0.0/8: reachable from this host only.
    public static func isLoopback(_ address: ListenAddress) -> Bool {
        address.host.hasPrefix("127.")
    }
}

/// How much of the proxy's access log is kept: `access.log` is renamed to `access.log.1` (and older
/// files shifted up to `access.log.<keep>`) once it is larger than `maxSize`. Docker's json-file log
/// of every bgctl container is bounded by the same figures.
public struct LogsSpec: Sendable, Hashable {
    public static let minimumSize = ByteSize.kibibyte
    public static let keepRange = 1...1000

    public var maxSize = ByteSize(bytes: 100 << 20)
    /// Rotated files kept beside the current one.
    public var keep = 5
    public init() {}
}

/// What counts as inconclusive analysis (fewer than `watch.min_requests` requests) leads to.
public enum InconclusivePolicy: String, Sendable, CaseIterable, Codable {
    case promote
    case rollback
    /// Keep analysing, up to `deploy.extend_limit`; still inconclusive then means rollback.
    case extend
}

public struct SmokeCheck: Sendable, Hashable {
    public var path: String
    public var status: Int

    public init(path: String, status: Int) {
        self.path = path
        self.status = status
    }
}

public struct DeploySpec: Sendable, Hashable {
    /// The shortest deploy.analyze, deploy.step and deploy.extend_limit, and so of `--analyze` and `--step`.
    public static let shortestAnalysis = SpecDuration.seconds(1)

    public var analyze = SpecDuration.seconds(60)
    public var inconclusive = InconclusivePolicy.extend
    public var extendLimit = SpecDuration.seconds(300)
    /// Roll back when the p95 request time through the proxy exceeds this; nil: no bound.
    public var maxP95: SpecDuration?
    public var drainTimeout = SpecDuration.seconds(30)
    /// No log line for the pool for this long counts as drained.
    public var drainQuiet = SpecDuration.seconds(2)
    public var smoke: [SmokeCheck] = []
    /// A lock older than this is taken over with a message.
    public var lockTTL = SpecDuration.seconds(1800)
    /// Percent of requests the new release gets at each canary step, in order (see `CanarySteps`);
    /// empty: a blue-green deploy (switch, then analyse).
    public var canary: [Int] = []
    /// How long each canary step is analysed before the next weight.
    public var step = SpecDuration.seconds(60)
    /// Requests the canary must have been sent before a step can be judged.
    public var canaryMinRequests = 20
    /// Percentage points by which the canary's error rate may exceed the baseline's.
    public var canaryMaxErrorDiff = 1.0
    /// Percentage points by which the share of requests the canary failed and nginx retried on the
    /// baseline may exceed the same share for the baseline.
    public var canaryMaxRetryDiff = 1.0
    /// The canary's p95 may be at most this many times the baseline's…
    public var canaryP95Ratio = 1.5
    /// …and is never judged too slow below this.
    public var canaryP95Floor = SpecDuration(milliseconds: 50)
    public var sticky = StickyMode.off
    /// Commands run in order inside the new release's container once it is healthy, before any
    /// traffic moves (migrations, cache warm-up); each an argv, run with `docker exec`.
    public var beforeSwitch: [[String]] = []
    /// The bound on all of them together; past it the command is stopped inside the container too.
    public var beforeSwitchTimeout = SpecDuration.seconds(600)
    public static let maxBeforeSwitch = 20
    public static let longestBeforeSwitch = SpecDuration.seconds(6 * 3600)
    public init() {}
}

/// Whether a client keeps the pool it was given during a canary.
public enum StickyMode: String, Sendable, CaseIterable, Codable {
    /// Each request is weighted on its own.
    case off
    /// A `bgctl_id` cookie keeps a client on the pool its id hashes to (see the template).
    case cookie
}

public struct WebhookSpec: Sendable, Hashable {
    public var url: Secret
    public var headers: [String: Secret]
}

public struct AlertsSpec: Sendable, Hashable {
    public var slackWebhookURL = Secret("")
    public var webhooks: [WebhookSpec] = []
    public init() {}

    public var hasSink: Bool { !slackWebhookURL.isEmpty || !webhooks.isEmpty }
}

/// An address range in `preview.allow`: IPv4 or IPv6 with a prefix length, host bits zero.
public struct SourceRange: Sendable, Hashable, CustomStringConvertible {
    /// Canonical text, as nginx's `geo` reads it.
    public let description: String
    /// The range's size, as the prefix length over the address's width (a /0 of either family: everyone).
    public let prefixLength: Int
    public let isIPv6: Bool
    /// The address's first byte, which says whether a wide IPv6 range stays inside fc00::/7.
    private let firstByte: UInt8

    /// Shorter prefixes than this reach more than one /8's worth of the internet: no private block
    /// is wider (10.0.0.0/8; fc00::/7, unique-local, is the one IPv6 exception).
    public static let widestPrivatePrefix = 8

    /// True for a range that includes much of the public internet (`0.0.0.0/0`, `::/0`, anything
    /// wider than a /8 outside fc00::/7): allowed, but worth a warning wherever it grants access.
    public var isWide: Bool {
        guard prefixLength < Self.widestPrivatePrefix else { return false }
        return !(isIPv6 && prefixLength == 7 && firstByte & 0xFE == 0xFC)
    }

    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let prefix = Syntax.integer(parts[1]) else { return nil }
        let address = String(parts[0])
        if let octets = IPv4Subnet.parseAddress(address) {
            guard prefix <= 32 else { return nil }
            let value = octets.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - UInt32(prefix))
            guard value & ~mask == 0 else { return nil }
            description = "\(address)/\(prefix)"
            (prefixLength, isIPv6, firstByte) = (prefix, false, octets[0])
            return
        }
        // IPv6: hex digits and colons only (no zone, no embedded IPv4), parsed by inet_pton.
        guard prefix <= 128, address.count <= 39, address.contains(":"),
              address.unicodeScalars.allSatisfy({ $0.properties.isASCIIHexDigit || $0 == ":" }) else { return nil }
        var bytes = [UInt8](repeating: 0, count: 16)
        guard inet_pton(AF_INET6, address, &bytes) == 1 else { return nil }
        for bit in prefix..<128 where bytes[bit / 8] & (0x80 >> UInt8(bit % 8)) != 0 { return nil }
        description = "\(address.lowercased())/\(prefix)"
        (prefixLength, isIPv6, firstByte) = (prefix, true, bytes[0])
    }
}

/// Preview routing: a request from an allowed address that names a pool in a header or a cookie is
/// sent to that pool, whichever is live. Off unless the spec has `preview:`.
public struct PreviewSpec: Sendable, Hashable {
    public static let maxSources = 64
    /// The request header naming the pool; nil: no header routing.
    public var header: String? = "X-Bgctl-Pool"
    /// The cookie naming the pool; nil: no cookie routing.
    public var cookie: String? = "bgctl_pool"
    /// Client addresses (as nginx sees them) allowed to choose a pool; never empty.
    public var allow: [SourceRange] = []
    public init() {}
}

/// The validated contents of a `bgctl.yaml`.
public struct DeploymentSpec: Sendable, Hashable {
    public var version = 1
    public var project = ""
    public var network: NetworkSpec
    public var pull = PullPolicy.missing
    public var proxy = ProxySpec()
    public var app = AppSpec()
    public var pools: [Pool: PoolSpec] = [.blue: PoolSpec(), .green: PoolSpec()]
    public var active = Pool.blue
    public var watch = WatchSpec()
    public var alerts = AlertsSpec()
    public var deploy = DeploySpec()
    public var hooks = HooksSpec()
    /// Set with `hosts`: the stack runs on each of these engines; nil: the one local engine.
    public var fleet: FleetSpec?
    /// Set inside one fleet host's agent, where `fleet` is nil: the host's name and the fleet's health path.
    public var fleetMember: FleetMember?
    /// fleet.health_path for the fleet's spec and for each of its hosts; nil for a stack on its own.
    public var fleetHealthPath: String? { fleet?.healthPath ?? fleetMember?.healthPath }
    /// By name.
    public var services: [ServiceSpec] = []
    public var servicesOrder = ServicesOrder.stopFirst
    public var logs = LogsSpec()
    public var preview: PreviewSpec?
    /// As written, relative to the spec's folder unless absolute.
    public var stateDir = ".bgctl"
    /// Custom nginx templates (as written, relative to the spec's folder); nil: the built-in ones.
    public var templatesDir: String?
    /// The variables the spec refers to that were set, with their values (they may be secrets).
    public var variables: [String: Secret] = [:]
    /// Every variable the spec refers to, set or not, with the dotted key paths of the values that
    /// refer to it (`alerts.webhooks[0].url`, `app.env.DB_PASSWORD`).
    public var references: [String: Set<String>] = [:]

    /// The set variables that a key the watcher reads refers to (`isWatcherKey`): the watcher
    /// container's environment, so that it reads its part of the spec as bgctl did and holds none of
    /// the app's secrets.
    public var watcherVariables: [String: Secret] {
        variables.filter { name, _ in
            references[name, default: []].contains { Self.isWatcherKey($0.split(separator: ".").map(String.init)) }
        }
    }

    /// Whether `bgctl watch` reads the value at `path` (spec keys, from the top): the project, watch,
    /// alerts, logs (rotation), state_dir and each pool's release (named in alerts).
    public static func isWatcherKey(_ path: [String]) -> Bool {
        guard let top = path.first else { return false }
        if ["project", "watch", "alerts", "logs", "state_dir"].contains(top) { return true }
        return top == "pools" && path.count == 3 && path[2] == "release"
    }

    public init(project: String) {
        self.project = project
        self.network = NetworkSpec(name: "\(project)-net", subnet: IPv4Subnet.derived(from: project))
    }

    public func pool(_ pool: Pool) -> PoolSpec { pools[pool] ?? PoolSpec() }

    /// Fixed address of a pool's container: nginx resolves upstream names only at load, so the
    /// pools keep their addresses across container recreation.
    public func address(of pool: Pool) -> String { network.subnet.host(pool == .blue ? 10 : 11) }

    public func containerName(_ pool: Pool) -> String { "\(project)-\(pool.rawValue)" }
    /// The proxy that serves this project: its own, or the host's shared front.
    public var proxyContainerName: String { front?.container ?? ownProxyContainerName }
    public var ownProxyContainerName: String { "\(project)-proxy" }
    /// Set (from the environment, by whoever builds the stack) when `proxy.hosts` puts the project
    /// behind the host's shared front.
    public var front: FrontPlacement?
    /// The prefix of this project's nginx names in the front (variables, upstreams, zones, log
    /// format), so that projects sharing one nginx never collide; empty with its own proxy.
    public var nginxNamespace: String { front == nil ? "" : project.replacingOccurrences(of: "-", with: "_") + "_" }
    public var watcherContainerName: String { "\(project)-watcher" }
    /// `<project>-<pool>-<service>-<replica>`, the replica counted from 1.
    public func serviceContainerName(_ pool: Pool, _ service: String, _ replica: Int) -> String {
        "\(project)-\(pool.rawValue)-\(service)-\(replica)"
    }
    /// Follows the engine's events for the watcher (`bgctl events`): the one container with the socket.
    public var eventsContainerName: String { "\(project)-events" }

    /// Whether the watcher container runs with the stack: as set, else when an alert sink exists or
    /// proxy.tls.acme has a certificate for it to renew.
    public var watcherEnabled: Bool { watch.enabled ?? (alerts.hasSink || proxy.tls?.acme != nil) }
}

/// `services.NAME`: another process type of the release (workers, schedulers): the live pool's image
/// and environment with another command, `replicas` containers, following the live pool.
public struct ServiceSpec: Sendable, Hashable {
    public var name: String
    /// What follows the image in `docker run IMAGE COMMAND…`: the image's entrypoint is kept.
    public var command: [String]
    public var replicas = 1
    /// SIGTERM, then this long, then SIGKILL.
    public var stopTimeout = SpecDuration.seconds(30)
    /// Over the app's and the pool's variables.
    public var env: [String: String] = [:]

    public init(name: String, command: [String]) {
        self.name = name
        self.command = command
    }

    public static let maxServices = 20
    public static let maxReplicas = 20
    public static let longestStopTimeout = SpecDuration.seconds(600)

    /// Lowercase letters, digits and "-", starting with a letter, at most 30.
    public static func isName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, ("a"..."z").contains(first), text.unicodeScalars.count <= 30 else { return false }
        return text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }
}

/// When traffic moves to another release, in which order its services replace the old ones'.
public enum ServicesOrder: String, Sendable, CaseIterable {
    /// The old release's services stop before the new one's start: never two releases' workers at once.
    case stopFirst = "stop-first"
    /// The new release's services start first: no gap, a short overlap.
    case startFirst = "start-first"
}

/// `hooks`: commands bgctl runs on the host around an operation, each an argv (never a shell line),
/// with a documented environment and nothing of the spec's secrets. A pre hook that fails stops the
/// operation before it changes anything; a post hook that fails is reported and recorded.
public struct HooksSpec: Sendable, Hashable {
    public enum Point: String, Sendable, CaseIterable {
        case preDeploy = "pre_deploy"
        case postDeploy = "post_deploy"
        case postSwitch = "post_switch"
        case postRollback = "post_rollback"

        public var isPre: Bool { self == .preDeploy }
    }

    public var commands: [Point: [String]] = [:]
    /// Each hook's bound; past it the hook's process group gets SIGTERM, then SIGKILL.
    public var timeout = SpecDuration.seconds(60)

    public static let maxArguments = 64
    public init() {}
}
