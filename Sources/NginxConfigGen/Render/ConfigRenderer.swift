import Foundation
import Mustache

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
    case templatesNotFound(searched: [String])
    case templateUnreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .templatesNotFound(let searched):
            return "cannot find bgctl's templates (nginx.conf.mustache); looked in: \(searched.joined(separator: ", ")); set BGCTL_TEMPLATES to the templates folder"
        case .templateUnreadable(let path, let reason):
            return "template \(path): \(reason)"
        }
    }
}

/// Renders the nginx configuration for a spec with a given live pool. Pure: templates and spec in,
/// file contents out; writing is `AtomicWriter`'s job.
public struct ConfigRenderer: Sendable {
    private let templates: [String: MustacheTemplate]

    public init(templatesDirectory: String) throws {
        var loaded: [String: MustacheTemplate] = [:]
        for name in [RenderedConfig.mainFile, RenderedConfig.siteFile] {
            let path = (templatesDirectory as NSString).appendingPathComponent(name + ".mustache")
            guard let data = FileManager.default.contents(atPath: path) else {
                throw RenderError.templateUnreadable(path: path, reason: "cannot read the file")
            }
            do {
                loaded[name] = try MustacheTemplate(string: String(decoding: data, as: UTF8.self))
            } catch {
                throw RenderError.templateUnreadable(path: path, reason: "\(error)")
            }
        }
        self.templates = loaded
    }

    public func render(_ spec: DeploymentSpec, live: Pool) -> RenderedConfig {
        let context = Self.context(spec, live: live)
        var files: [String: String] = [:]
        for (name, template) in templates {
            files[name] = template.render(context)
        }
        return RenderedConfig(files: files)
    }

    /// The values the templates see. Every value here was validated by the spec loader, so none can
    /// carry nginx syntax; they are inserted as they are.
    static func context(_ spec: DeploymentSpec, live: Pool) -> [String: Any] {
        let proxy = spec.proxy
        var retry = proxy.retryOn
        if retry.isEmpty { retry = ["off"] } else if proxy.retryNonIdempotent { retry.append("non_idempotent") }
        let pools: [[String: Any]] = Pool.allCases.map { pool in
            [
                "name": pool.rawValue,
                "address_regex": spec.address(of: pool).replacingOccurrences(of: ".", with: "\\.") + ":\(spec.app.port)",
                "release": spec.pool(pool).release,
            ]
        }
        let servers: [[String: Any]] = [live, live.other].map { pool in
            [
                "name": pool.rawValue,
                "address": spec.address(of: pool),
                "port": String(spec.app.port),
                "max_fails": String(proxy.maxFails),
                "fail_timeout": "\(proxy.failTimeout.milliseconds / 1000)s",
                "backup": pool != live,
            ]
        }
        return [
            "project": spec.project,
            "live": live.rawValue,
            "worker_processes": proxy.workerProcesses,
            "worker_connections": String(proxy.workerConnections),
            "shutdown_timeout": proxy.shutdownTimeout.nginxMilliseconds,
            "pools": pools,
            "servers": servers,
            "keepalive": proxy.keepalive > 0 ? String(proxy.keepalive) : false,
            "listen_port": String(proxy.listen.port),
            "health_path": proxy.healthPath,
            "connect_timeout": proxy.connectTimeout.nginxMilliseconds,
            "read_timeout": proxy.readTimeout.nginxMilliseconds,
            "retry_on": retry.joined(separator: " "),
            "retry_tries": String(proxy.retryTries),
            "retry_timeout": proxy.retryTimeout.nginxMilliseconds,
        ]
    }
}

/// Where the templates live: `BGCTL_TEMPLATES`, beside the spec, beside the installed binary
/// (`../share/bgctl/templates`), or the source checkout this binary was built from.
public enum TemplateLocator {
    public static func find(environment: [String: String], specDirectory: String?, executablePath: String?) throws -> String {
        var candidates: [String] = []
        if let explicit = environment["BGCTL_TEMPLATES"], !explicit.isEmpty { candidates.append(explicit) }
        if let specDirectory { candidates.append((specDirectory as NSString).appendingPathComponent("templates")) }
        if let executablePath {
            let bin = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath().deletingLastPathComponent()
            candidates.append(bin.appendingPathComponent("../share/bgctl/templates").standardized.path)
        }
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../templates").standardized.path
        candidates.append(source)
        for candidate in candidates
        where FileManager.default.fileExists(atPath: (candidate as NSString).appendingPathComponent("nginx.conf.mustache")) {
            return candidate
        }
        throw RenderError.templatesNotFound(searched: candidates)
    }
}
