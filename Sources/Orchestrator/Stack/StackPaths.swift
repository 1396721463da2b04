import Foundation
import NginxConfigGen
import Support

/// Where a stack keeps its files on the host. All paths are absolute (Docker bind mounts need that).
public struct StackPaths: Sendable, Equatable {
    public let stateDir: String

    public init(spec: DeploymentSpec, specDirectory: String) {
        let base = spec.stateDir.hasPrefix("/") ? spec.stateDir
            : (Self.absolute(specDirectory) as NSString).appendingPathComponent(spec.stateDir)
        self.stateDir = (base as NSString).standardizingPath
    }

    public static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
    }

    /// Mounted into the proxy at /bgctl/conf; bgctl renames files here.
    public var nginxDir: String { join("nginx") }
    /// The route (see `Route`): inside the configuration's mount, so a proxy made before routes
    /// existed sees it without being recreated. Read-only for the proxy.
    public var routeDir: String { join("nginx/route") }
    public var routeLink: String { join("nginx/route/\(Route.currentLink)") }
    /// Candidate configuration, tested with `nginx -t` before it replaces the live files.
    public var nextDir: String { join("nginx/next") }
    /// With proxy.tls: copies of the certificate and key, mounted into the proxy read-only at /bgctl/tls.
    /// A folder, not single files, so that a copy replaced by rename is what the proxy sees.
    /// Each certificate and key pair has a folder of its own, named by its `TLSMaterial.fingerprint`
    /// (checked with `TLSFiles.isFingerprint` before it gets here): new files never replace the ones
    /// the installed configuration names.
    public var tlsDir: String { join("tls") }
    public func tlsFolder(_ fingerprint: String) -> String { join("tls/\(fingerprint)") }
    public func tlsCertificate(_ fingerprint: String) -> String { join("tls/\(fingerprint)/cert.pem") }
    public func tlsKey(_ fingerprint: String) -> String { join("tls/\(fingerprint)/key.pem") }
    /// Mounted into the proxy at /bgctl/logs; holds access.log.
    public var logsDir: String { join("logs") }
    public var accessLog: String { join("logs/access.log") }
    public var stateFile: String { join("state.json") }
    public var historyFile: String { join("history.jsonl") }
    public var lockFile: String { join("lock") }
    public var lockInfoFile: String { join("lock.json") }
    /// The stack's watcher keeps its status, tail position and maintenance state here.
    public var watcherDir: String { join("watcher") }
    public var maintenanceFile: String { join("watcher/maintenance.json") }
    public var watcherStatusFile: String { join("watcher/status.json") }
    /// The live pool for the watcher's `bgctl_pool_weight`, copied from state.json without the rest
    /// (its deployed env may hold secrets); the watcher container sees only its own folder.
    public var watcherPoolsFile: String { join("watcher/pools.json") }
    /// Digests of configurations the running proxy container already accepted (see TestedConfigs).
    public var testedFile: String { join("tested.json") }

    /// The operation in progress; left behind only by one that was interrupted.
    public var journalFile: String { join("journal.json") }

    /// Everything bgctl writes here; `down --purge` removes exactly these.
    public var ownedPaths: [String] {
        [nginxDir, tlsDir, logsDir, watcherDir, stateFile, historyFile, lockFile, lockInfoFile, testedFile, journalFile]
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
        for folder in [nginxDir, nextDir, routeDir, tlsDir, logsDir, watcherDir] {
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
