import Foundation
import NginxConfigGen
import Support

/// Where a stack keeps its files on the host. All paths are absolute (Docker bind mounts need that).
public struct StackPaths: Sendable, Equatable {
    public let stateDir: String
    /// Behind the shared front: the front's folder and this project's name. The proxy's files (the
    /// configuration, the route, certificates, the access log) are then the project's folders in the
    /// front's, which the front mounts; the rest stays in the state folder.
    public let front: FrontPaths?

    public init(spec: DeploymentSpec, specDirectory: String) {
        let base = spec.stateDir.hasPrefix("/") ? spec.stateDir
            : (Self.absolute(specDirectory) as NSString).appendingPathComponent(spec.stateDir)
        self.stateDir = (base as NSString).standardizingPath
        self.front = spec.front.map { FrontPaths(directory: $0.directory) }
        self.project = spec.project
    }

    private let project: String

    private var proxyBase: String {
        guard let front else { return join("nginx") }
        return front.projectFolder(project)
    }

    public static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
    }

    /// Mounted into the proxy at /bgctl/conf; bgctl renames files here.
    public var nginxDir: String { proxyBase }
    /// The route (see `Route`): inside the configuration's mount, so a proxy made before routes
    /// existed sees it without being recreated. Read-only for the proxy.
    public var routeDir: String { proxyBase + "/route" }
    public var routeLink: String { proxyBase + "/route/\(Route.currentLink)" }
    /// On a fleet's host: the fleet's agreement (`FleetAgreement`), beside the route and read-only for
    /// the proxy the same way (at /bgctl/conf/fleet), which answers fleet.health_path from it.
    public var fleetDir: String { proxyBase + "/" + FleetAgreement.folder }
    /// Candidate configuration, tested with `nginx -t` before it replaces the live files.
    public var nextDir: String { proxyBase + "/next" }
    /// With proxy.tls: copies of the certificate and key, mounted into the proxy read-only at /bgctl/tls.
    /// A folder, not single files, so that a copy replaced by rename is what the proxy sees.
    /// Each certificate and key pair has a folder of its own, named by its `TLSMaterial.fingerprint`
    /// (checked with `TLSFiles.isFingerprint` before it gets here): new files never replace the ones
    /// the installed configuration names.
    public var tlsDir: String { front == nil ? join("tls") : proxyBase + "/tls" }
    public func tlsFolder(_ fingerprint: String) -> String { tlsDir + "/\(fingerprint)" }
    /// With proxy.tls.acme: tls/live, a link to the installed pair's folder, which the configuration names
    /// (`TLSLink`), so a renewal changes the link and not the configuration.
    public var tlsLink: String { tlsDir + "/" + TLSLink.name }
    public func tlsCertificate(_ fingerprint: String) -> String { tlsDir + "/\(fingerprint)/cert.pem" }
    public func tlsKey(_ fingerprint: String) -> String { tlsDir + "/\(fingerprint)/key.pem" }
    /// With proxy.tls.acme: the front serves each token file here at /.well-known/acme-challenge/.
    public var challengeDir: String { proxyBase + "/" + FrontConfig.challengeFolder }
    /// With proxy.tls.acme: the account key, issued pairs and the renewal schedule (`CertificateStore`).
    public var acmeDir: String { join("acme") }
    /// Mounted into the proxy at /bgctl/logs; holds access.log.
    public var logsDir: String { front?.logsFolder(project) ?? join("logs") }
    public var accessLog: String { logsDir + "/access.log" }
    public var stateFile: String { join("state.json") }
    public var historyFile: String { join("history.jsonl") }
    public var lockFile: String { join("lock") }
    public var lockInfoFile: String { join("lock.json") }
    /// The stack's watcher keeps its status, tail position and maintenance state here.
    public var watcherDir: String { join("watcher") }
    public var maintenanceFile: String { join("watcher/maintenance.json") }
    public var watcherStatusFile: String { join("watcher/status.json") }
    /// The events container writes events.jsonl here; the watcher reads it (mounted read-only).
    public var eventsDir: String { join("events") }
    /// The live pool for the watcher's `bgctl_pool_weight`, copied from state.json without the rest
    /// (its deployed env may hold secrets); the watcher container sees only its own folder.
    public var watcherPoolsFile: String { join("watcher/pools.json") }
    /// Digests of configurations the running proxy container already accepted (see TestedConfigs).
    public var testedFile: String { join("tested.json") }

    /// The operation in progress; left behind only by one that was interrupted.
    public var journalFile: String { join("journal.json") }

    /// Everything bgctl writes here; `down --purge` removes exactly these.
    public var ownedPaths: [String] {
        [nginxDir, tlsDir, logsDir, watcherDir, eventsDir, acmeDir, stateFile, historyFile, lockFile, lockInfoFile, testedFile, journalFile]
    }

    /// A path below the state folder as a person reads it: relative to the folder.
    public func relative(_ path: String) -> String {
        path.hasPrefix(stateDir + "/") ? String(path.dropFirst(stateDir.count + 1)) : path
    }

    /// Refuses a state folder that others can write (`SafeOpen.othersCanWrite`, strictly: owned by
    /// another user, or group- or world-writable), and a subfolder bgctl writes into that is a link
    /// or not a folder. Root acts on these files: whoever can plant a link here could make it create
    /// files anywhere. Called before an operation changes anything; a missing folder is not checked.
    public func checkFolder() throws {
        var st = stat()
        // The state folder's own path may be a link an operator made: what it leads to is checked.
        guard stat(stateDir, &st) == 0 else { return }
        if let reason = SafeOpen.othersCanWrite(st, strict: true) {
            throw OrchestratorError.stateFolderUnsafe(path: stateDir, reason: reason)
        }
        for folder in [nginxDir, nextDir, routeDir, fleetDir, tlsDir, logsDir, watcherDir, eventsDir, acmeDir, challengeDir] {
            guard lstat(folder, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFLNK {
                throw OrchestratorError.stateFolderUnsafe(path: folder, reason: "it is a symbolic link; bgctl does not follow links inside its state folder")
            }
            if (st.st_mode & S_IFMT) != S_IFDIR {
                throw OrchestratorError.stateFolderUnsafe(path: folder, reason: "it is not a folder")
            }
        }
    }

    private func join(_ component: String) -> String { (stateDir as NSString).appendingPathComponent(component) }
}

/// The shared front's folder on the host (see `FrontConfig` for the paths inside its container).
public struct FrontPaths: Sendable, Equatable {
    public let directory: String

    public init(directory: String) {
        self.directory = (directory as NSString).standardizingPath
    }

    /// Mounted read-only at /bgctl/conf: the wrapper and every project's folder.
    public var confDir: String { directory + "/conf" }
    public var wrapper: String { confDir + "/" + RenderedConfig.mainFile }
    public var projectsDir: String { confDir + "/" + FrontConfig.projectsFolder }
    public func projectFolder(_ project: String) -> String { projectsDir + "/" + project }
    /// Mounted at /bgctl/logs: each project's access log in a folder of its own.
    public var logsDir: String { directory + "/logs" }
    public func logsFolder(_ project: String) -> String { logsDir + "/" + project }
    /// Which project claims which names and addresses (`FrontRegistry`).
    public var registry: String { directory + "/front.json" }
    /// Serialises changes to the front's configuration across projects; traffic never waits on it.
    public var lockFile: String { directory + "/lock" }
}
