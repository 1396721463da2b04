import Foundation
import NginxConfigGen
import Support

/// front.json: what the host's shared front listens on and which project claims which names. Read
/// and written only under `FrontLock`; replaced atomically, so a kill leaves the old or the new one.
public struct FrontRegistry: Codable, Sendable, Equatable {
    public struct Project: Codable, Sendable, Equatable {
        public var hosts: [String]
        public var network: String
        public var namespace: String
        public var tls: Bool
        public var joined: String
        /// FNV-1a of the part bgctl installed last: `front status` tells a part edited since.
        public var digest: String?
    }

    static func digest(_ bytes: [UInt8]) -> String {
        var hasher = FNV1a()
        hasher.add(bytes)
        return String(hasher.value, radix: 16) + "-" + String(bytes.count)
    }

    public static let schema = 1
    public var schema = FrontRegistry.schema
    public var container: String
    public var image: String
    public var listen: String
    public var tlsListen: String?
    public var projects: [String: Project] = [:]

    enum CodingKeys: String, CodingKey {
        case schema, container, image, listen, projects
        case tlsListen = "tls_listen"
    }

    /// The largest front.json read: a thousand projects with a hundred names each fit well below.
    static let maxBytes = 8 << 20

    /// Nil when there is none; a file that is not a registry is an error (never silently replaced:
    /// it holds every project's claims).
    public static func load(_ paths: FrontPaths) throws -> FrontRegistry? {
        switch BoundedRead.read(paths.registry, limit: maxBytes) {
        case .missing:
            return nil
        case .bytes(let bytes):
            guard let registry = try? JSONDecoder().decode(FrontRegistry.self, from: Data(bytes)) else {
                throw OrchestratorError.stateUnreadable(path: paths.registry, reason: "not a front registry bgctl wrote (it lists the projects on the shared front; fix or remove it by hand)")
            }
            guard registry.schema <= schema else {
                throw OrchestratorError.stateTooNew(path: paths.registry, schema: registry.schema, reads: schema)
            }
            // Its values reach docker's argv and nginx's configuration: held to the spec's own rules.
            if let problem = registry.problem {
                throw OrchestratorError.stateUnreadable(path: paths.registry, reason: problem + " (fix or remove it by hand)")
            }
            return registry
        case .notRegular:
            throw OrchestratorError.stateUnreadable(path: paths.registry, reason: "not a regular file")
        case .tooLarge(let size):
            throw OrchestratorError.stateUnreadable(path: paths.registry, reason: "\(size) bytes, over the \(maxBytes >> 20) MiB limit")
        case .failed(let reason):
            throw OrchestratorError.stateUnreadable(path: paths.registry, reason: reason)
        }
    }

    /// What in a registry read from disk breaks the rules a spec's values follow; nil when nothing.
    var problem: String? {
        guard Syntax.isProjectNameValue(container) else { return "container is not a container name bgctl would give" }
        guard Syntax.isImageReferenceValue(image) else { return "image is not an image reference" }
        guard ListenAddress(hostPort: listen) != nil else { return "listen is not IPV4:PORT" }
        if let tlsListen, ListenAddress(hostPort: tlsListen) == nil { return "tls_listen is not IPV4:PORT" }
        guard projects.count <= 10_000 else { return "more than 10000 projects" }
        for (name, project) in projects {
            guard Syntax.isProjectNameValue(name) else { return "a project's name is not a project name" }
            guard project.hosts.count <= ProxySpec.maxHosts, project.hosts.allSatisfy({ Syntax.hostNameProblem($0) == nil }) else {
                return "project \(name)'s hosts are not host names"
            }
            guard project.network.utf8.count <= 128, project.namespace.utf8.count <= 64 else { return "project \(name)'s entry is too long" }
        }
        return nil
    }

    public func save(_ paths: FrontPaths) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try AtomicFile.write(try encoder.encode(self), to: paths.registry, mode: 0o644)
    }

    /// A new front, as this project's spec would have it.
    public static func founded(by spec: DeploymentSpec, container: String) -> FrontRegistry {
        FrontRegistry(container: container, image: spec.proxy.image, listen: spec.proxy.listen.description,
                      tlsListen: spec.proxy.tls?.listen.description)
    }

    /// Why `spec`'s project cannot be on this front; nil when it can. Every refusal names the project
    /// it conflicts with, or the front's setting, so the person knows whom to talk to.
    public func conflict(with spec: DeploymentSpec) -> String? {
        let others = projects.filter { $0.key != spec.project }
        let owner = others.keys.sorted().first.map { "project \($0)" } ?? "the front's own settings"
        if spec.proxy.listen.description != listen {
            return "the shared front listens on \(listen) (set by \(owner)); this spec's proxy.listen is \(spec.proxy.listen). Projects on one front listen on the same address"
        }
        if let tls = spec.proxy.tls {
            guard let tlsListen else {
                return "the shared front was started without HTTPS (by \(owner)); a project with proxy.tls needs a front that publishes an HTTPS port: bring the front's projects down, then up with proxy.tls first"
            }
            if tls.listen.description != tlsListen {
                return "the shared front serves HTTPS on \(tlsListen) (set by \(owner)); this spec's proxy.tls.listen is \(tls.listen)"
            }
        }
        if spec.proxy.image != image && !others.isEmpty {
            return "the shared front runs \(image) (for \(owner)); this spec's proxy.image is \(spec.proxy.image). Projects on one front name the same proxy image"
        }
        for name in spec.proxy.hosts {
            if let (project, _) = others.sorted(by: { $0.key < $1.key }).first(where: { $0.value.hosts.contains(name) }) {
                return "\(name) is claimed by project \(project) on the shared front; one name reaches one project (bgctl down in \(project) releases it, or bgctl front forget \(project) if that project is gone)"
            }
        }
        let mine = spec.nginxNamespace
        if let (project, _) = others.sorted(by: { $0.key < $1.key }).first(where: { $0.value.namespace.hasPrefix(mine) || mine.hasPrefix($0.value.namespace) }) {
            return "project \(project) on the shared front has nginx names that \(spec.project)'s could collide with (- and _ read alike there, and one name starts the other); rename one of the projects"
        }
        return nil
    }

    /// This registry with `spec`'s project recorded (its names replace what it claimed before).
    public func claiming(_ spec: DeploymentSpec, at time: String, part: [UInt8]? = nil) -> FrontRegistry {
        var next = self
        let joined = projects[spec.project]?.joined ?? time
        next.projects[spec.project] = Project(hosts: spec.proxy.hosts, network: spec.network.name, namespace: spec.nginxNamespace,
                                              tls: spec.proxy.tls != nil, joined: joined, digest: part.map(Self.digest))
        return next
    }
}

extension FrontRegistry {
    /// `bgctl front forget`: under the front's lock, the project's claim, route and part go (its
    /// names answer 404 at once; the next reload no longer loads it). False when it was not there.
    public static func forget(_ project: String, placement: FrontPlacement, clock: Clock) throws -> Bool {
        let paths = FrontPaths(directory: placement.directory)
        let lock = try FrontLock.acquire(paths, wait: 30, clock: clock) {}
        defer { lock.release() }
        let folder = paths.projectFolder(project)
        let present = FileManager.default.fileExists(atPath: folder)
        var registry = try load(paths)
        let claimed = registry?.projects[project] != nil
        if claimed {
            registry?.projects[project] = nil
            try registry?.save(paths)
        }
        if present {
            for name in ["route/\(Route.currentLink)", "route", RenderedConfig.siteFile, RenderedConfig.mainFile, "next"] {
                let path = folder + "/" + name
                if (try? FileManager.default.attributesOfItem(atPath: path)) != nil { try FileManager.default.removeItem(atPath: path) }
            }
        }
        return claimed || present
    }
}

/// flock(2) on the front's lock file: changes to the front's configuration (a project's part tested,
/// installed and reloaded; the front created or removed) happen one at a time across projects. Only
/// bgctl waits on it, never a request; the kernel drops it when its holder dies.
public final class FrontLock {
    private let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    public static func acquire(_ paths: FrontPaths, wait: Double, clock: Clock, onWait: () -> Void) throws -> FrontLock {
        do {
            try FileManager.default.createDirectory(atPath: paths.directory, withIntermediateDirectories: true)
        } catch {
            throw OrchestratorError.lockUnavailable(path: paths.lockFile, reason: (error as NSError).localizedDescription)
        }
        var st = stat()
        if stat(paths.directory, &st) == 0, let reason = SafeOpen.othersCanWrite(st, strict: true) {
            throw OrchestratorError.stateFolderUnsafe(path: paths.directory, reason: reason)
        }
        let fd: Int32
        do {
            fd = try SafeOpen.file(paths.lockFile, flags: O_RDWR | O_CREAT, mode: 0o644)
        } catch let error as WriteError {
            throw OrchestratorError.lockUnavailable(path: paths.lockFile, reason: error.reason)
        }
        let deadline = clock.monotonic() + wait
        var told = false
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard clock.monotonic() < deadline else {
                close(fd)
                throw OrchestratorError.lockTimeout(holder: "another project's change to the shared front (\(paths.lockFile))")
            }
            if !told {
                told = true
                onWait()
            }
            clock.sleep(0.05)
        }
        return FrontLock(fd: fd)
    }

    public func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }

    deinit {}
}
