import Foundation
import NginxConfigGen
import Support

/// `bgctl front status`: the host's shared front as its files and its container show it, without any
/// project's spec (it is the host's, not one project's).
public struct FrontReport: Sendable {
    public struct Project: Sendable {
        public var name: String
        public var hosts: [String]
        /// The route's folder name (`blue`, `green+5`); nil when the project has no route (down).
        public var route: String?
        /// installed (what bgctl installed last), missing, or changed (edited since).
        public var part: String
        public var tls: Bool
        public var certificateNotAfter: Date?
    }

    public var directory: String
    public var container: String
    /// running, exited, …, or missing.
    public var state: String
    public var listen: String?
    public var tlsListen: String?
    public var projects: [Project]
    /// Parts in projects/ that no project in the registry claims (left by hand, or by a crash).
    public var unclaimed: [String]

    /// Problems a person should act on; empty when the front serves every project's part.
    public var problems: [String] {
        var found: [String] = []
        if !projects.isEmpty && state != "running" { found.append("the front \(container) is \(state): no project on it is served") }
        for project in projects where project.part != "installed" {
            found.append("\(project.name): its part is \(project.part); run bgctl up in that project")
        }
        for name in unclaimed { found.append("projects/\(name) is in the front's folder but claimed by no project; bgctl front forget \(name) removes it") }
        return found
    }

    public static func read(_ placement: FrontPlacement, inspect: (String) -> ContainerInfo?) throws -> FrontReport {
        let paths = FrontPaths(directory: placement.directory)
        let registry = try FrontRegistry.load(paths)
        let container = registry?.container ?? placement.container
        var report = FrontReport(directory: paths.directory, container: container, state: inspect(container)?.state ?? "missing",
                                 listen: registry?.listen, tlsListen: registry?.tlsListen, projects: [], unclaimed: [])
        for (name, claim) in (registry?.projects ?? [:]).sorted(by: { $0.key < $1.key }) {
            let folder = paths.projectFolder(name)
            let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: folder + "/route/" + Route.currentLink))
            // The folder's name, when it is one a route has (a planted name reads as none).
            let route = link.map { ($0 as NSString).lastPathComponent }.flatMap { Route(folderName: $0) == nil ? nil : $0 }
            let part: String
            switch BoundedRead.read(folder + "/" + RenderedConfig.siteFile, limit: 4 << 20) {
            case .bytes(let bytes): part = claim.digest == nil || claim.digest == FrontRegistry.digest(bytes) ? "installed" : "changed"
            default: part = "missing"
            }
            var notAfter: Date?
            if claim.tls, let entries = try? FileManager.default.contentsOfDirectory(atPath: folder + "/tls") {
                for entry in entries where TLSFiles.isFingerprint(entry) {
                    if case .bytes(let pem) = BoundedRead.read(folder + "/tls/\(entry)/cert.pem", limit: 1 << 20),
                       let info = TLSFiles.certificateInfo(pem: pem) {
                        notAfter = max(notAfter ?? info.notAfter, info.notAfter)
                    }
                }
            }
            report.projects.append(Project(name: name, hosts: claim.hosts, route: route, part: part, tls: claim.tls,
                                           certificateNotAfter: notAfter))
        }
        let claimed = Set(registry?.projects.keys.map { $0 } ?? [])
        report.unclaimed = ((try? FileManager.default.contentsOfDirectory(atPath: paths.projectsDir)) ?? [])
            .filter { !claimed.contains($0) && FileManager.default.fileExists(atPath: paths.projectFolder($0) + "/" + RenderedConfig.siteFile) }
            .sorted()
        return report
    }
}
