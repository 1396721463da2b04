import Foundation

/// `hosts` and `fleet`: the same stack on several Docker engines, switched all-or-nothing.
public struct FleetSpec: Sendable, Hashable {
    public var hosts: [FleetHost]
    /// How long the flip on every host may take, from the first to the last; past it every host
    /// already flipped is flipped back.
    public var flipTimeout = SpecDuration.seconds(10)
    /// Where each host keeps the project's files (`<state_root>/<project>/`), bind-mounted at the same
    /// path into the project's agent container on that host.
    public var stateRoot = "/var/lib/bgctl"
    /// What each host's proxy answers for the load balancer in front of the fleet: 200 while the pool
    /// the host serves is one the fleet agreed on, 503 otherwise (see `FleetAgreement`).
    public var healthPath = FleetSpec.defaultHealthPath

    /// How a switch moves the hosts: all at once (all-or-nothing), or `batch` hosts at a time in the
    /// hosts' order, each batch all-or-nothing, and every batch already moved moved back when one fails.
    public enum Strategy: String, Sendable, Hashable, CaseIterable { case all, rolling }
    public var strategy = Strategy.all
    /// Hosts per batch of a rolling switch (1 to the number of hosts).
    public var batch = 1

    public init(hosts: [FleetHost]) { self.hosts = hosts }

    public static let maxHosts = 16
    public static let defaultHealthPath = "/_bgctl/fleet"
}

/// Inside one host's agent the spec is that host's alone (`DeploymentSpec.fleet` is nil there); this is
/// what the host keeps of the fleet.
public struct FleetMember: Sendable, Hashable {
    /// The host's name in `hosts`.
    public var host: String
    /// fleet.health_path: the host's proxy answers it.
    public var healthPath: String

    public init(host: String, healthPath: String) {
        self.host = host
        self.healthPath = healthPath
    }
}

/// One Docker engine of the fleet.
public struct FleetHost: Sendable, Hashable {
    public enum Endpoint: Sendable, Hashable {
        /// `docker --host`: ssh://[user@]host[:port], tcp://host:port or unix:///path.
        case host(String)
        /// `docker --context`.
        case context(String)
    }

    public var name: String
    public var endpoint: Endpoint
    /// The engine's socket on that host, mounted into the project's agent there.
    public var socket: String
    /// fleet.state_root for this host alone (several test engines share one machine's disk).
    public var stateRoot: String?

    public init(name: String, endpoint: Endpoint, socket: String? = nil, stateRoot: String? = nil) {
        self.name = name
        self.endpoint = endpoint
        if let socket {
            self.socket = socket
        } else if case .host(let url) = endpoint, url.hasPrefix("unix://") {
            self.socket = String(url.dropFirst("unix://".count))
        } else {
            self.socket = "/var/run/docker.sock"
        }
        self.stateRoot = stateRoot
    }

    /// An absolute path with no ":" or "," (it goes into a `--volume`) and no "..".
    public static func isMountPath(_ text: String) -> Bool {
        text.hasPrefix("/") && Syntax.isFilePath(text) && !text.contains(":") && !text.contains(",") && !text.split(separator: "/").contains("..")
    }

    /// The docker CLI's global options that reach this engine.
    public var dockerArguments: [String] {
        switch endpoint {
        case .host(let url): return ["--host", url]
        case .context(let name): return ["--context", name]
        }
    }

    /// Reached over ssh (connections reused, calls capped per host).
    public var isSSH: Bool {
        if case .host(let url) = endpoint { return url.hasPrefix("ssh://") }
        return false
    }

    public var description: String {
        switch endpoint {
        case .host(let url): return url
        case .context(let name): return "context \(name)"
        }
    }

    /// Lowercase letters, digits and "-", starting with a letter or digit, at most 32.
    public static func isName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, Syntax.isLowerAlnum(first), text.unicodeScalars.count <= 32 else { return false }
        return text.unicodeScalars.allSatisfy { Syntax.isLowerAlnum($0) || $0 == "-" }
    }

    /// Why `text` is not an engine address bgctl takes; nil when it is one.
    public static func addressProblem(_ text: String) -> String? {
        if text.hasPrefix("unix://") {
            let path = String(text.dropFirst("unix://".count))
            guard path.hasPrefix("/"), Syntax.isFilePath(path), !path.contains(" ") else { return "a unix:// address needs an absolute socket path" }
            return nil
        }
        for scheme in ["ssh://", "tcp://"] where text.hasPrefix(scheme) {
            var rest = Substring(text.dropFirst(scheme.count))
            if scheme == "ssh://", let at = rest.firstIndex(of: "@") {
                let user = rest[..<at]
                guard !user.isEmpty, user.count <= 32, user.unicodeScalars.allSatisfy({ Syntax.isAlnum($0) || "_.-".unicodeScalars.contains($0) }),
                      user.first != "-" else { return "the ssh user must be letters, digits, \"_\", \".\" or \"-\"" }
                rest = rest[rest.index(after: at)...]
            }
            var host = rest
            if let colon = rest.lastIndex(of: ":") {
                host = rest[..<colon]
                guard let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else { return "the port must be 1–65535" }
            } else if scheme == "tcp://" {
                return "a tcp:// address needs a port"
            }
            guard !host.isEmpty, host.count <= 253, host.first != "-",
                  host.unicodeScalars.allSatisfy({ Syntax.isAlnum($0) || ".-".unicodeScalars.contains($0) }) else {
                return "expected a host name or IPv4 address (letters, digits, \".\" and \"-\")"
            }
            return nil
        }
        return "expected ssh://[USER@]HOST[:PORT], tcp://HOST:PORT or unix:///PATH"
    }

    /// A docker context's name, as the docker CLI allows it.
    public static func isContextName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, Syntax.isAlnum(first), text.unicodeScalars.count <= 64 else { return false }
        return text.unicodeScalars.allSatisfy { Syntax.isAlnum($0) || "_.+-".unicodeScalars.contains($0) }
    }
}
