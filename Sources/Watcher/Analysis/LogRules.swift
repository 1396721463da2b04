import Foundation

/// What a log line means, decided in one place for the watcher, the deploy's analysis and its drain:
/// which statuses are errors, which paths are ignored, what counts as retried and as failover.
/// Pure and allocation-free per line: the byte forms run on the watch hot path.
public struct LogRules: Sendable, Equatable {
    /// Who answered a request, compared with the pool the log says is live.
    public enum Answer: Sendable, Equatable {
        /// The line names no pool or no live pool.
        case unknown
        case live
        /// Another pool answered for the live one.
        case failover
    }

    public let ignorePaths: [String]
    public let count4xx: Bool
    /// `ignorePaths` as bytes, compared against the URI's bytes without building a String.
    private let ignoreBytes: [[UInt8]]

    /// An empty ignore path is dropped: it would match nothing on the hot path but "?…" as a String.
    public init(ignorePaths: [String], count4xx: Bool) {
        self.ignorePaths = ignorePaths.filter { !$0.isEmpty }
        self.count4xx = count4xx
        self.ignoreBytes = self.ignorePaths.map { Array($0.utf8) }
    }

    public init(settings: WatchSettings) {
        self.init(ignorePaths: settings.ignorePaths, count4xx: settings.count4xx)
    }

    /// 5xx, and 4xx when `count_4xx` is on.
    @inline(__always)
    public func isError(status: Int) -> Bool {
        status >= 500 || (count4xx && status >= 400)
    }

    /// Failed on one upstream and tried again on another, whatever the client finally got.
    @inline(__always)
    public func isRetried(_ record: LogRecord) -> Bool { record.retried }

    @inline(__always)
    public func answer(_ record: LogRecord) -> Answer {
        guard record.pool != .none, record.live != .none else { return .unknown }
        return record.pool == record.live ? .live : .failover
    }

    /// Answered by a pool other than the live one.
    @inline(__always)
    public func isFailover(_ record: LogRecord) -> Bool { answer(record) == .failover }

    /// True when the URI is an ignored path: exactly, followed by a query string ("?…"), or under it
    /// when the configured path ends in "/". Compares the bytes as logged (JSON-escaped), after the
    /// path part is normalised as nginx does before choosing a location (see `NginxPath`), so
    /// `/static/../api/x` is not under `/static/`. A path nginx refuses (400) is never ignored.
    public func isIgnored(uri: UnsafeRawBufferPointer) -> Bool {
        guard !ignoreBytes.isEmpty, !uri.isEmpty else { return false }
        guard NginxPath.needsNormalising(uri) else { return matches(uri) }
        // The normal form is never longer than the logged one: on the stack for any real URI.
        return withUnsafeTemporaryAllocation(byteCount: uri.count, alignment: 1) { buffer in
            guard let normal = NginxPath.normalise(uri, into: buffer) else { return false }
            return matches(UnsafeRawBufferPointer(rebasing: buffer[..<normal.count]), pathEnd: normal.pathEnd)
        }
    }

    /// `pathEnd`: where the query starts in `uri` (a decoded "?" is part of the path); nil: at the
    /// first "?".
    private func matches(_ uri: UnsafeRawBufferPointer, pathEnd: Int? = nil) -> Bool {
        guard !uri.isEmpty else { return false }
        for path in ignoreBytes where uri.count >= path.count {
            let same = path.withUnsafeBytes { memcmp(uri.baseAddress!, $0.baseAddress!, path.count) == 0 }
            guard same else { continue }
            let atQuery = pathEnd.map { $0 == path.count } ?? (uri.count > path.count && uri[path.count] == UInt8(ascii: "?"))
            if uri.count == path.count || atQuery || path.last == UInt8(ascii: "/") { return true }
        }
        return false
    }

    /// The same rule for the URI at `range` of a log line, as `LogRecord.uri` gives it.
    @inline(__always)
    public func isIgnored(_ line: UnsafeRawBufferPointer, uri range: Range<Int>) -> Bool {
        guard !ignoreBytes.isEmpty, !range.isEmpty, range.upperBound <= line.count else { return false }
        return isIgnored(uri: UnsafeRawBufferPointer(rebasing: line[range]))
    }

    /// The same rule for a URI held as a String.
    public func isIgnored(_ uri: String) -> Bool {
        guard !ignoreBytes.isEmpty else { return false }
        var uri = uri
        return uri.withUTF8 { isIgnored(uri: UnsafeRawBufferPointer($0)) }
    }
}
