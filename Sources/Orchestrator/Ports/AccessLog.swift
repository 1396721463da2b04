import NginxConfigGen
import Watcher

/// Reads the proxy's access log from the moment it is made: what a deploy's analysis and drain see.
public protocol AccessLogReading: AnyObject {
    /// Reads what was logged since the last call; returns the figures since the reader was made.
    func read() -> AnalysisFigures
    /// Requests answered by `pool` since the reader was made, as of the last `read`.
    func requests(to pool: Pool) -> Int
    /// One pool's figures since the reader was made, as of the last `read` (a canary step's comparison).
    func figures(of pool: Pool) -> PoolFigures
}

/// Makes a reader for the log at a path; a new one per analysis or drain.
public typealias AccessLogOpener = @Sendable (_ path: String) -> AccessLogReading

/// The real reader: the watcher's tailer, parser and rules (`LogTally`), so a deploy judges a line
/// exactly as the watcher does.
public final class TailedAccessLog: AccessLogReading {
    private let tally: LogTally

    /// `addresses`: each pool's upstream address by name, to tell from `upstream_addr` where nginx sent a request first.
    public init(path: String, rules: LogRules, addresses: [String: String] = [:]) {
        tally = LogTally(path: path, rules: rules, addresses: addresses)
        tally.begin()
    }

    /// The opener for a spec's rules (`watch.ignore_paths`, `watch.count_4xx`) and its pools' addresses.
    public static func opener(_ spec: DeploymentSpec) -> AccessLogOpener {
        let rules = LogRules(ignorePaths: spec.watch.ignorePaths, count4xx: spec.watch.count4xx)
        let addresses = Dictionary(uniqueKeysWithValues: Pool.allCases.map { ($0.rawValue, "\(spec.address(of: $0)):\(spec.app.port)") })
        return { path in TailedAccessLog(path: path, rules: rules, addresses: addresses) }
    }

    public func read() -> AnalysisFigures {
        tally.read(now: 0)
        return AnalysisFigures(tally.figures)
    }

    public func requests(to pool: Pool) -> Int { tally.pool(named: pool.rawValue).requests }

    public func figures(of pool: Pool) -> PoolFigures { tally.figures(of: pool == .blue ? .blue : .green) }
}
