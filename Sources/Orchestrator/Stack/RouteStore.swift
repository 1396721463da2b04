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

/// The route folder itself, wherever it is mounted: nginx/route/ for bgctl, /bgctl/route in the
/// watcher's container. Changes to it are serialised by flock(2) on the folder, so the watcher's move
/// and a person's switch never interleave (a person's switch holds the stack's lock too).
public struct RouteFolder: Sendable {
    public let folder: String
    let files: FileSystem
    /// How paths are named in messages.
    let display: @Sendable (String) -> String

    public init(folder: String, files: FileSystem = LocalFileSystem(), display: @escaping @Sendable (String) -> String = { $0 }) {
        self.folder = folder
        self.files = files
        self.display = display
    }

    var link: String { (folder as NSString).appendingPathComponent(Route.currentLink) }

    /// The route in force, checked: the link names a folder whose name is a route and whose files are
    /// exactly that route's.
    public func read() -> RouteReading {
        guard let target = files.readLink(link) else {
            return files.exists(link) ? .damaged("\(display(link)) is not a link") : .missing
        }
        guard let route = Route(folderName: target) else {
            return .damaged("\(display(link)) names something that is not a route")
        }
        let named = (folder as NSString).appendingPathComponent(target)
        guard let names = files.list(named), names.sorted() == route.fileNames else {
            return .damaged("the folder \(display(named)) does not hold the files of the route \(route)")
        }
        return .route(route)
    }

    /// Makes `route` the one in force: its folder written (or kept, when it holds the right files),
    /// then `current` renamed onto it — the instant traffic moves. The folder of the route before is
    /// kept (a request may be reading it at that instant); older ones are removed.
    public func install(_ route: Route) throws {
        try files.createDirectory(folder)
        try Self.locked(folder) { try installUnlocked(route) }
    }

    /// `install`, only while the route in force is still `expected`; false (nothing changed) otherwise.
    public func install(_ route: Route, ifStill expected: Route) throws -> Bool {
        try Self.locked(folder) {
            guard read() == .route(expected) else { return false }
            try installUnlocked(route)
            return true
        }
    }

    private func installUnlocked(_ route: Route) throws {
        let previous = files.readLink(link)
        let name = route.folderName
        let target = (folder as NSString).appendingPathComponent(name)
        if files.list(target)?.sorted() != route.fileNames {
            // Built under another name, so a folder named by a route always holds all of its files.
            let building = target + ".building"
            try files.remove(building)
            try files.createDirectory(building)
            try files.createEmptyFiles(route.fileNames, in: building)
            // A damaged folder of that name goes, even the one in force: it is not a route anyway.
            try files.remove(target)
            try files.rename(building, to: target)
        }
        // rename(2) cannot put a link over a folder (a copy of the state folder that followed links, say).
        if previous == nil, files.exists(link) { try files.remove(link) }
        try files.replaceLink(link, target: name)
        let keep: Set<String> = [Route.currentLink, name, previous].compactMap { $0 }.reduce(into: []) { $0.insert($1) }
        for entry in files.list(folder) ?? [] where !keep.contains(entry) {
            try? files.remove((folder as NSString).appendingPathComponent(entry))
        }
    }

    /// flock(LOCK_EX) on the folder for the duration of `body`; released when the descriptor closes,
    /// also when the process dies.
    static func locked<T>(_ folder: String, _ body: () throws -> T) throws -> T {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path: folder, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw FileError(path: folder, reason: "flock: \(String(cString: strerror(errno)))") }
        }
        return try body()
    }
}

extension Stack {
    var routeFolder: RouteFolder {
        let paths = self.paths
        return RouteFolder(folder: paths.routeDir, files: ports.files, display: { paths.relative($0) })
    }

    /// The route in force (see `RouteFolder.read`).
    public func readRoute() -> RouteReading { routeFolder.read() }

    /// Makes `route` the one in force (see `RouteFolder.install`).
    func installRoute(_ route: Route) throws { try routeFolder.install(route) }
}
