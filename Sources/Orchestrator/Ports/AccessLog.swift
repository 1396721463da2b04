import NginxConfigGen

/// Reads the proxy's access log from the moment it is made: what a deploy's analysis and drain see.
/// Implemented with the watcher's tailer, parser and rules.
public protocol AccessLogReading: AnyObject {
    /// Reads what was logged since the last call; returns the figures since the reader was made.
    func read() -> AnalysisFigures
    /// Requests answered by `pool` since the reader was made, as of the last `read`.
    func requests(to pool: Pool) -> Int
}

/// Makes a reader for the log at a path; a new one per analysis or drain.
public typealias AccessLogOpener = @Sendable (_ path: String) -> AccessLogReading
