import Foundation
import HTTPClient
import Support

/// Reads container state straight from the Docker engine's API on its unix socket: `GET
/// /containers/NAME/json` is what `docker inspect` prints, in a millisecond instead of the tens a
/// docker process costs — most of a switch's time before traffic moves.
public protocol ContainerInspecting: Sendable {
    /// The containers found, by name (missing ones absent); nil when the engine could not be asked
    /// this way, and the docker CLI should be.
    func inspect(_ names: [String]) -> [String: ContainerInfo]?
}

public struct EngineSocket: ContainerInspecting {
    public let path: String
    let http: HTTPClient

    public init(path: String, http: HTTPClient = HTTPClient()) {
        self.path = path
        self.http = http
    }

    /// The local engine's socket when the docker CLI would talk to it too: no DOCKER_HOST other than a
    /// unix socket, no DOCKER_CONTEXT, and no current context in the CLI's config; nil otherwise (and
    /// with BGCTL_DOCKER_API=0), so every call goes through the docker CLI.
    public static func local(environment: [String: String]) -> EngineSocket? {
        guard environment["BGCTL_DOCKER_API"] != "0", case .socket(let path) = localSocket(environment: environment) else { return nil }
        return EngineSocket(path: path)
    }

    /// `localSocket`, as a bind mount can name it: an absolute path without the mount separator.
    public static func eventsSource(environment: [String: String]) -> EventsSource {
        let found = localSocket(environment: environment)
        guard case .socket(let path) = found else { return found }
        guard path.hasPrefix("/"), !path.contains(":") else { return .unavailable("the socket path \(SafeLine.clip(path)) cannot be mounted") }
        return found
    }

    /// The socket the docker CLI would reach the engine on, when it is a local unix socket: what the
    /// events container mounts (BGCTL_DOCKER_API=0 changes how bgctl asks, not where the engine is).
    /// Otherwise why not, in words for `up`'s warning.
    static func localSocket(environment: [String: String]) -> EventsSource {
        if let context = environment["DOCKER_CONTEXT"] {
            return .unavailable("DOCKER_CONTEXT is set (\(SafeLine.clip(context))): the engine may not be on this host")
        }
        var path = "/var/run/docker.sock"
        if let host = environment["DOCKER_HOST"], !host.isEmpty {
            guard host.hasPrefix("unix://") else {
                return .unavailable("DOCKER_HOST is not a unix socket (\(SafeLine.clip(String(host.prefix(while: { $0 != ":" }))))://…)")
            }
            path = String(host.dropFirst("unix://".count))
        }
        let config = environment["DOCKER_CONFIG"] ?? environment["HOME"].map { "\($0)/.docker" }
        if let config, let text = BoundedRead.contents(of: "\(config)/config.json", limit: 1 << 20),
           String(decoding: text, as: UTF8.self).contains("\"currentContext\"") {
            return .unavailable("the docker CLI's config names a current context: the engine may not be on this host")
        }
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFSOCK else {
            return .unavailable("\(SafeLine.clip(path)) is not a unix socket on this host")
        }
        return .socket(path)
    }

    public func inspect(_ names: [String]) -> [String: ContainerInfo]? {
        var found: [String: ContainerInfo] = [:]
        for name in names {
            // Container names bgctl asks for are its own: [a-z0-9_.-]; anything else goes to the CLI.
            guard !name.isEmpty, name.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_.-".unicodeScalars.contains($0)) }) else {
                return nil
            }
            let request = HTTPRequest(url: "http://localhost/containers/\(name)/json", timeout: 10, connectTimeout: 2, unixSocket: path)
            guard case .success(let response) = http.perform(request) else { return nil }
            switch response.status {
            case 200:
                guard let info = ContainerInfo.parseInspect("[" + response.bodyText + "]").first else { return nil }
                found[info.name] = info
            case 404:
                continue
            default:
                return nil
            }
        }
        return found
    }
}
