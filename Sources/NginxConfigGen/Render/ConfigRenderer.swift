import Foundation
import Mustache
import Support

/// The files bgctl writes for nginx: file name → contents. Keys are stable; contents are deterministic.
public struct RenderedConfig: Sendable, Equatable {
    public static let mainFile = "nginx.conf"
    public static let siteFile = "bgctl.conf"
    /// The order files are replaced in: the included file first, so that the main file never names
    /// a site file that is not there yet.
    public static let writeOrder = [siteFile, mainFile]

    public let files: [String: String]

    public init(files: [String: String]) {
        self.files = files
    }

    /// Files in a stable order, main file first, each preceded by a `# ---- name` line; what `render` prints.
    public var listing: String {
        [Self.mainFile, Self.siteFile].compactMap { name in
            files[name].map { "# ---- \(name)\n\($0)" }
        }.joined(separator: "\n")
    }
}

public enum RenderError: Error, CustomStringConvertible {
    case templateUnreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .templateUnreadable(let path, let reason):
            return "template \(path): \(reason)"
        }
    }
}

/// Renders the nginx configuration for a spec with a given live pool. Pure: templates and spec in,
/// file contents out; writing is `AtomicWriter`'s job.
public struct ConfigRenderer: Sendable {
    private let templates: [String: MustacheTemplate]

    /// The templates built into the binary (templates/*.mustache when it was built).
    public static func builtin() throws -> ConfigRenderer {
        try ConfigRenderer(sources: BuiltinTemplates.files, origin: "the built-in templates")
    }

    /// Custom templates: `nginx.conf.mustache` and `bgctl.conf.mustache` in `templatesDirectory`.
    public init(templatesDirectory: String) throws {
        var sources: [String: String] = [:]
        for name in [RenderedConfig.mainFile, RenderedConfig.siteFile] {
            let path = (templatesDirectory as NSString).appendingPathComponent(name + ".mustache")
            guard let bytes = BoundedRead.contents(of: path, limit: 1 << 20) else {
                throw RenderError.templateUnreadable(path: path, reason: "cannot read the file (or it is over 1 MiB, or not a regular file)")
            }
            sources[name] = String(decoding: bytes, as: UTF8.self)
        }
        try self.init(sources: sources, origin: templatesDirectory)
    }

    init(sources: [String: String], origin: String) throws {
        var loaded: [String: MustacheTemplate] = [:]
        for name in [RenderedConfig.mainFile, RenderedConfig.siteFile] {
            do {
                loaded[name] = try MustacheTemplate(string: sources[name] ?? "")
            } catch {
                throw RenderError.templateUnreadable(path: "\(origin)/\(name).mustache", reason: "\(error)")
            }
        }
        self.templates = loaded
    }

    /// The configuration for a spec. Which pool serves is not in it: the route decides per request
    /// (see `Route`), so the same bytes serve every route and a switch never needs a reload.
    /// `tlsFingerprint`: `TLSMaterial.fingerprint` of the certificate and key nginx will load with
    /// this configuration (with `proxy.tls` set): what `up` installs, or what is installed already.
    public func render(_ spec: DeploymentSpec, tlsFingerprint: String? = nil) -> RenderedConfig {
        let context = Self.context(spec, tlsFingerprint: tlsFingerprint)
        var files: [String: String] = [:]
        for (name, template) in templates {
            files[name] = template.render(context)
        }
        if spec.front != nil {
            // Behind the shared front the project's part is bgctl.conf alone; its nginx.conf is the
            // front's wrapper around just that file, which `nginx -t` tests the part alone with.
            files[RenderedConfig.mainFile] = FrontConfig.wrapper(listen: spec.proxy.listen, tlsListen: spec.proxy.tls?.listen,
                                                                 includes: [RenderedConfig.siteFile])
        }
        return RenderedConfig(files: files)
    }

    /// The values the templates see. Every value here was validated by the spec loader, so none can
    /// carry nginx syntax; they are inserted as they are.
    static func context(_ spec: DeploymentSpec, tlsFingerprint: String? = nil) -> [String: Any] {
        let proxy = spec.proxy
        var retry = proxy.retryOn
        if retry.isEmpty { retry = ["off"] } else if proxy.retryNonIdempotent { retry.append("non_idempotent") }
        let pools: [[String: Any]] = Pool.allCases.map { pool in
            [
                "name": pool.rawValue,
                "address_regex": spec.address(of: pool).replacingOccurrences(of: ".", with: "\\.") + ":\(spec.app.port)",
                // The built-in template leaves releases out, so staging one changes nothing nginx
                // reads; a custom template that names them reloads on every deploy.
                "release": spec.pool(pool).release,
            ]
        }
        func server(_ pool: Pool, backup: Bool) -> [String: Any] {
            [
                "name": pool.rawValue,
                "address": spec.address(of: pool),
                "port": String(spec.app.port),
                "max_fails": String(proxy.maxFails),
                "fail_timeout": "\(proxy.failTimeout.milliseconds / 1000)s",
                "backup": backup,
            ]
        }
        // One upstream per pool, the other pool its backup: the route names one per request.
        let upstreams: [[String: Any]] = Pool.allCases.map { pool in
            ["name": pool.rawValue, "servers": [server(pool, backup: false), server(pool.other, backup: true)]]
        }
        // The upstream a request goes to unless preview routing names a pool.
        let ns = spec.nginxNamespace
        let main = "bgctl_\(ns)$bgctl_\(ns)target"
        let front = spec.front != nil
        // The agreement folder beside the route, where the proxy sees its configuration.
        let fleetHealth: Any = spec.fleetHealthPath.map { path in
            let folder = front ? FrontConfig.projectFolder(spec.project) + "/" + FleetAgreement.folder : FleetAgreement.mount
            return ["path": path, "agreed": "\(folder)/\(FleetAgreement.filePrefix)$bgctl_\(ns)live"]
        } ?? false
        return [
            "ns": ns,
            "front": front,
            "server_names": front ? spec.proxy.hosts.joined(separator: " ") : false,
            "access_log": front ? FrontConfig.accessLog(spec.project) : "logs/access.log",
            "tls_root": front ? FrontConfig.tlsRoot(spec.project) : "/bgctl/tls",
            "route": front ? FrontConfig.route(spec.project) : "\(Route.mount)/\(Route.currentLink)",
            "buckets": (0..<(Route.buckets - 1)).map(String.init),
            "default_upstream": main,
            "preview": spec.preview.map { previewContext($0, spec: spec) } ?? false,
            "upstream": spec.preview == nil ? main : "$bgctl_\(ns)upstream",
            "project": spec.project,
            "worker_processes": proxy.workerProcesses,
            "worker_connections": String(proxy.workerConnections),
            "shutdown_timeout": proxy.shutdownTimeout.nginxMilliseconds,
            "pools": pools,
            "upstreams": upstreams,
            "keepalive": proxy.keepalive > 0 ? String(proxy.keepalive) : false,
            "listen_port": String(proxy.listen.port),
            "listeners": listeners(proxy, spec: spec, tlsFingerprint: tlsFingerprint),
            // The fingerprint names a folder: anything but one bgctl computed names none.
            "tls_folder": proxy.tls?.acme != nil ? TLSLink.name : tlsFingerprint.flatMap { TLSFiles.isFingerprint($0) ? $0 : nil } ?? "none",
            "health_path": proxy.healthPath,
            "app_health_path": spec.app.health.path,
            "fleet_health": fleetHealth,
            "connect_timeout": proxy.connectTimeout.nginxMilliseconds,
            "read_timeout": proxy.readTimeout.nginxMilliseconds,
            "retry_on": retry.joined(separator: " "),
            "retry_tries": String(proxy.retryTries),
            "retry_timeout": proxy.retryTimeout.nginxMilliseconds,
        ]
    }

    /// Preview routing: `geo` decides whether the client may choose, a map per channel reads the pool
    /// it names (anything but blue or green is ignored), and the header wins over the cookie.
    static func previewContext(_ preview: PreviewSpec, spec: DeploymentSpec) -> [String: Any] {
        let header = preview.header.map { "$http_" + $0.lowercased().replacingOccurrences(of: "-", with: "_") }
        let cookie = preview.cookie.map { "$cookie_" + $0 }
        let ns = spec.nginxNamespace
        let key = "$bgctl_\(ns)preview_source:\(header == nil ? "" : "$bgctl_\(ns)preview_header"):\(cookie == nil ? "" : "$bgctl_\(ns)preview_cookie")"
        return [
            "allow": preview.allow.map(\.description),
            "header_variable": header ?? false,
            "channels": [preview.header.map { "header " + $0 }, preview.cookie.map { "cookie " + $0 }]
                .compactMap { $0 }.joined(separator: ", "),
            "cookie_variable": cookie ?? false,
            "key": key,
            "pools": Pool.allCases.map { pool in
                ["name": pool.rawValue, "address": spec.address(of: pool), "port": String(spec.app.port)]
            },
        ]
    }

    /// The server blocks: plain HTTP, and HTTPS with `proxy.tls`. The template writes one block for
    /// both, so the proxying `location /` is the same text in each and the two cannot drift apart.
    static func listeners(_ proxy: ProxySpec, spec: DeploymentSpec, tlsFingerprint: String?) -> [[String: Any]] {
        // ACME's HTTP-01 challenge, on plain HTTP only (where the CA asks), before any redirect.
        let challenge: Any = proxy.tls?.acme != nil && spec.front != nil ? FrontConfig.challengeRoot(spec.project) : false
        guard let tls = proxy.tls else {
            return [["listen": String(proxy.listen.port), "ssl": false, "redirect": false, "acme_challenge": false]]
        }
        // With ACME and no certificate yet, plain HTTP alone: the challenge answers, and nothing
        // redirects to an HTTPS server that does not exist until the certificate arrives.
        if tls.acme != nil && !(tlsFingerprint.map(TLSFiles.isFingerprint) ?? false) {
            return [["listen": String(proxy.listen.port), "ssl": false, "redirect": false, "acme_challenge": challenge]]
        }
        let port = tls.listen.port
        let target = "https://$host\(port == 443 ? "" : ":\(port)")$request_uri"
        // HTTP/2 as a `listen` parameter: nginx before 1.25.1 (Debian 12 ships 1.22, the proxy image's
        // nginx) knows no `http2 on;` and refuses the configuration; 1.25.1 and later still accept the
        // parameter and only log that it is deprecated. One spelling that loads everywhere beats a
        // rendering that depends on a version bgctl would have to ask the running image for.
        return [
            ["listen": String(proxy.listen.port), "ssl": false, "redirect": tls.redirectHTTP ? ["target": target] : false,
             "acme_challenge": challenge],
            ["listen": "\(port) ssl\(tls.http2 ? " http2" : "")", "ssl": true, "redirect": false, "acme_challenge": false],
        ]
    }
}
