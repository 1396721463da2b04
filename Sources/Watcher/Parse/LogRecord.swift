/// Which pool a log field names. Parsed from bytes without building a String.
public enum PoolTag: UInt8, Sendable, Equatable, CaseIterable {
    case none
    case blue
    case green
    case other

    public var name: String {
        switch self {
        case .none: return ""
        case .blue: return "blue"
        case .green: return "green"
        case .other: return "other"
        }
    }
}

/// One access-log line reduced to what the analysis needs. Text fields are kept as byte ranges of the
/// line (`uri`, `method`, `release`, `upstreamStatus`, `upstreamAddr`) and turned into Strings only when a line is
/// worth showing, so the hot path allocates nothing.
public struct LogRecord: Sendable, Equatable {
    /// Seconds since the epoch, from `msec` (or `time`); 0 when the line has neither.
    public var time: Double = 0
    public var status: Int = 0
    public var pool: PoolTag = .none
    public var live: PoolTag = .none
    /// Upstream attempts listed in `upstream_status` ("502, 200" is two).
    public var upstreamAttempts: Int = 0
    /// Total request time in seconds, or -1 when absent.
    public var requestTime: Double = -1
    public var uri: Range<Int> = 0..<0
    public var method: Range<Int> = 0..<0
    public var release: Range<Int> = 0..<0
    public var upstreamStatus: Range<Int> = 0..<0
    /// Every address nginx tried, in order ("10.0.0.11:3000, 10.0.0.10:3000").
    public var upstreamAddr: Range<Int> = 0..<0
    /// Sent to a pool the client chose (preview routing, the log's `route`), not by the live routing.
    public var previewRouted = false

    public init() {}

    /// Failed on one upstream and was tried again: the first sign of a failing pool, even when the
    /// client saw a success.
    public var retried: Bool { upstreamAttempts > 1 }
}
