/// Which pool takes new requests: the live pool, and a canary's share beside it. The proxy reads it
/// on every request from files, so moving traffic is one rename(2) and never a reload.
///
/// The layout, in nginx/route/ (the proxy's /bgctl/conf/route/, read-only):
/// - `current`: a symbolic link to the folder of the route in force, replaced by a rename;
/// - one folder per route, named by it (`blue`, `green+5`: green live, blue the canary at 5%), holding
///   a file named after the live pool, `c0` … `c<percent - 1>` (the request buckets the canary takes)
///   and, for a sticky canary, `sticky`.
/// The configuration tests `-f current/green`, `-f current/c$bucket` and `-f current/sticky`; every
/// request is put in one of 100 buckets by `split_clients` (on `$request_id`, or on the client's
/// `bgctl_id` cookie when it has one), so a canary's share needs no weight in the configuration.
public struct Route: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var live: Pool
    /// The canary beside `live` (its pool is `live.other`); nil: `live` takes every request.
    public var canary: CanaryRouting?

    /// The folder below the proxy's configuration mount that holds the route.
    public static let mount = "/bgctl/conf/route"
    /// The link naming the folder in force.
    public static let currentLink = "current"
    /// Requests are split into this many buckets; a canary at p% takes buckets 0 … p-1.
    public static let buckets = 100

    public init(live: Pool, canary: CanaryRouting? = nil) {
        self.live = live
        // A canary on the live pool is no canary.
        self.canary = canary.flatMap { $0.pool == live ? nil : $0 }
    }

    /// The folder's name: `blue`, `green`, or `<live>+<percent>` (with `s` for a sticky canary).
    public var folderName: String {
        guard let canary else { return live.rawValue }
        return "\(live.rawValue)+\(canary.percent)\(canary.sticky ? "s" : "")"
    }

    /// The files the folder holds, sorted.
    public var fileNames: [String] {
        var names = [live.rawValue]
        if let canary {
            names += (0..<canary.percent).map { "c\($0)" }
            if canary.sticky { names.append("sticky") }
        }
        return names.sorted()
    }

    /// The route a folder name describes; nil for any other name (so a planted or half-written entry
    /// is never taken for a route).
    public init?(folderName name: String) {
        let parts = name.split(separator: "+", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, let live = Pool(rawValue: String(first)) else { return nil }
        guard parts.count == 2 else {
            self.init(live: live)
            return
        }
        var digits = Substring(parts[1])
        let sticky = digits.hasSuffix("s")
        if sticky { digits = digits.dropLast() }
        guard !digits.isEmpty, digits.count <= 2, digits.allSatisfy({ $0.isASCII && $0.isNumber }), digits.first != "0",
              let percent = Int(digits), CanarySteps.percents.contains(percent) else { return nil }
        self.init(live: live, canary: CanaryRouting(pool: live.other, percent: percent, sticky: sticky))
        guard folderName == name else { return nil }
    }

    public var description: String {
        canary.map { "\(live.rawValue) live, canary \($0.description)" } ?? "\(live.rawValue) live"
    }
}
