/// What the watcher needs from the spec, built by the CLI: the Watcher module imports nothing of ours.
public struct WatchSettings: Sendable, Equatable {
    public var project: String
    /// Last N requests.
    public var window: Int
    /// And last T seconds.
    public var windowSeconds: Double
    /// No rate alert on fewer requests than this.
    public var minRequests: Int
    /// Percent.
    public var errorRateThreshold: Double
    public var count4xx: Bool
    public var ignorePaths: [String]
    /// Seconds between repeats of the same firing alert.
    public var cooldown: Double
    /// Failover starts after this many requests answered by a pool other than the live one within
    /// `failoverSeconds`, and ends when the live pool has answered this many in a row.
    public var failoverRequests: Int
    public var failoverSeconds: Double
    /// Releases by pool, for messages.
    public var releases: [String: String]

    public init(project: String, window: Int = 200, windowSeconds: Double = 60, minRequests: Int = 20,
                errorRateThreshold: Double = 2, count4xx: Bool = false, ignorePaths: [String] = [],
                cooldown: Double = 300, failoverRequests: Int = 2, failoverSeconds: Double = 10,
                releases: [String: String] = [:]) {
        self.project = project
        self.window = window
        self.windowSeconds = windowSeconds
        self.minRequests = minRequests
        self.errorRateThreshold = errorRateThreshold
        self.count4xx = count4xx
        self.ignorePaths = ignorePaths
        self.cooldown = cooldown
        self.failoverRequests = failoverRequests
        self.failoverSeconds = failoverSeconds
        self.releases = releases
    }
}
