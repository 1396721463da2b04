import Foundation
import NginxConfigGen

/// The route as the files in nginx/route/ hold it: what the proxy reads on every request.
public enum RouteReading: Sendable, Equatable {
    /// No `current` link: a stack made before routes, or one whose proxy was never started.
    case missing
    case route(Route)
    /// A link or folder bgctl did not write (or a half-written folder): the proxy serves blue, its
    /// default, and `up` or a switch writes the route again.
    case damaged(String)

    public var route: Route? {
        if case .route(let route) = self { return route }
        return nil
    }
}

extension Stack {
    /// The route in force, checked: the link names a folder whose name is a route and whose files are
    /// exactly that route's.
    public func readRoute() -> RouteReading {
        guard let target = ports.files.readLink(paths.routeLink) else {
            return ports.files.exists(paths.routeLink) ? .damaged("\(paths.relative(paths.routeLink)) is not a link") : .missing
        }
        guard let route = Route(folderName: target) else {
            return .damaged("\(paths.relative(paths.routeLink)) names something that is not a route")
        }
        let folder = (paths.routeDir as NSString).appendingPathComponent(target)
        guard let names = ports.files.list(folder), names.sorted() == route.fileNames else {
            return .damaged("the folder \(paths.relative(folder)) does not hold the files of the route \(route)")
        }
        return .route(route)
    }

    /// Makes `route` the one in force: its folder written (or kept, when it holds the right files),
    /// then `current` renamed onto it — the instant traffic moves. The folder of the route before is
    /// kept (a request may be reading it at that instant); older ones are removed.
    func installRoute(_ route: Route) throws {
        let files = ports.files
        try files.createDirectory(paths.routeDir)
        let previous = files.readLink(paths.routeLink)
        let name = route.folderName
        let folder = (paths.routeDir as NSString).appendingPathComponent(name)
        if files.list(folder)?.sorted() != route.fileNames {
            // Built under another name, so a folder named by a route always holds all of its files.
            let building = folder + ".building"
            try files.remove(building)
            try files.createDirectory(building)
            try files.createEmptyFiles(route.fileNames, in: building)
            // A damaged folder of that name goes, even the one in force: it is not a route anyway.
            try files.remove(folder)
            try files.rename(building, to: folder)
        }
        // rename(2) cannot put a link over a folder (a copy of the state folder that followed links, say).
        if previous == nil, files.exists(paths.routeLink) { try files.remove(paths.routeLink) }
        try files.replaceLink(paths.routeLink, target: name)
        let keep: Set<String> = [Route.currentLink, name, previous].compactMap { $0 }.reduce(into: []) { $0.insert($1) }
        for entry in files.list(paths.routeDir) ?? [] where !keep.contains(entry) {
            try? files.remove((paths.routeDir as NSString).appendingPathComponent(entry))
        }
    }
}
