import Foundation

/// Counts the proxy's access log from a moment on, for a deploy: its analysis after the switch, each
/// canary step's comparison of the two pools, and its drain before replacing a pool. Reads through `Tailer` (rotation, truncation, partial lines)
/// and `LineParser`, and applies `LogRules` exactly as the watcher does: ignored paths are left out of
/// the figures, while the per-pool counts take every parsed line — like the watcher's `by_pool`, and
/// because a drain waits for any request in flight to a pool, a probe included. Never reads the clock:
/// each `read(now:)` is told the time. Not thread-safe; one owner reads it.
public final class LogTally {
    public let path: String
    public let rules: LogRules
    /// Lines that are not log records (blank lines aside), including lines over the tailer's cap.
    public var malformed: Int { malformedLines + (tailer?.counters.tooLong ?? 0) }

    private var tailer: Tailer?
    private var counted = TallyFigures()
    private var times = DurationHistogram()
    private var malformedLines = 0
    /// Indexed by `PoolTag.rawValue`.
    private var pools = [PoolTally](repeating: PoolTally(), count: PoolTag.allCases.count)
    /// Per pool, indexed by `PoolTag.rawValue`: the canary analysis' figures and request times.
    private var shares = [PoolFigures](repeating: PoolFigures(), count: PoolTag.allCases.count)
    private var shareTimes = [DurationHistogram](repeating: DurationHistogram(), count: PoolTag.allCases.count)
    /// Each pool's upstream address as nginx logs it ("172.29.7.11:3000"), to tell which pool a
    /// request was sent to first from `upstream_addr`.
    private let addresses: [(tag: PoolTag, bytes: [UInt8])]

    /// `addresses`: the pools' upstream addresses by pool name ("blue", "green"); without them the pool
    /// tried first is inferred (with two pools, a retried request went first to the one that did not answer).
    public init(path: String, rules: LogRules, addresses: [String: String] = [:]) {
        self.path = path
        self.rules = rules
        self.addresses = addresses.sorted { $0.key < $1.key }.compactMap { name, address in
            let tag: PoolTag = name == "blue" ? .blue : name == "green" ? .green : .other
            return tag == .other || address.isEmpty ? nil : (tag, Array(address.utf8))
        }
    }

    /// Starts counting at the log's current end: lines already there are not counted. A log that does
    /// not exist yet is read from its start once it appears. Calling it again starts over from zero.
    public func begin() {
        tailer = Tailer(path: path, fromStart: false)
        counted = TallyFigures()
        times = DurationHistogram()
        malformedLines = 0
        pools = [PoolTally](repeating: PoolTally(), count: PoolTag.allCases.count)
        shares = [PoolFigures](repeating: PoolFigures(), count: PoolTag.allCases.count)
        shareTimes = [DurationHistogram](repeating: DurationHistogram(), count: PoolTag.allCases.count)
    }

    /// Counts the complete lines written since the last read, up to `maxBatches` of the tailer's
    /// batches (what is left waits for the next read: a flooded log cannot hold a deploy); a pool with
    /// a line in this batch is last seen at `now`. Returns the lines read (0 before `begin()`).
    @discardableResult
    public func read(now: Double, maxBatches: Int = 64) -> Int {
        guard let tailer else { return 0 }
        var lines = 0
        for _ in 0..<max(1, maxBatches) {
            lines += tailer.readAvailable { line in count(line, now: now) }
            if tailer.caughtUp { break }
        }
        return lines
    }

    /// The figures so far (what the last `read(now:)` found; this reads nothing).
    public var figures: TallyFigures {
        var figures = counted
        figures.p95 = times.quantile(0.95)
        return figures
    }

    public func pool(_ tag: PoolTag) -> PoolTally { pools[Int(tag.rawValue)] }

    /// One pool's figures so far (what the last `read(now:)` found), ignored paths left out.
    public func figures(of tag: PoolTag) -> PoolFigures {
        var figures = shares[Int(tag.rawValue)]
        figures.p95 = shareTimes[Int(tag.rawValue)].quantile(0.95)
        return figures
    }

    /// By the name the log uses ("blue", "green"); "" is lines without a pool, any other name `.other`.
    public func pool(named name: String) -> PoolTally {
        switch name {
        case "": return pool(.none)
        case "blue": return pool(.blue)
        case "green": return pool(.green)
        default: return pool(.other)
        }
    }

    private func count(_ line: UnsafeRawBufferPointer, now: Double) {
        guard let record = LineParser.parse(line) else {
            if !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { malformedLines += 1 }
            return
        }
        let index = Int(record.pool.rawValue)
        pools[index].requests += 1
        pools[index].lastSeen = now
        guard !rules.isIgnored(line, uri: record.uri), !record.previewRouted else { return }
        let isError = rules.isError(status: record.status)
        counted.requests += 1
        if isError { counted.errors += 1 }
        if rules.isRetried(record) { counted.retried += 1 }
        if rules.isFailover(record) { counted.failovers += 1 }
        if record.requestTime >= 0 { times.add(record.requestTime) }
        let answered = Int(record.pool.rawValue)
        shares[answered].requests += 1
        if isError { shares[answered].errors += 1 }
        if record.requestTime >= 0 { shareTimes[answered].add(record.requestTime) }
        let first = firstTried(line, record)
        shares[Int(first.rawValue)].sent += 1
        if record.retried && first != record.pool { shares[Int(first.rawValue)].retriedAway += 1 }
    }

    /// The pool nginx sent the request to first: the first address of `upstream_addr` when it is a
    /// known pool's, else (no addresses given) the other pool for a retried request, the answering one otherwise.
    private func firstTried(_ line: UnsafeRawBufferPointer, _ record: LogRecord) -> PoolTag {
        let range = record.upstreamAddr
        if !addresses.isEmpty, !range.isEmpty, range.upperBound <= line.count {
            var end = range.lowerBound
            while end < range.upperBound, line[end] != UInt8(ascii: ","), line[end] != UInt8(ascii: " ") { end += 1 }
            let first = UnsafeRawBufferPointer(rebasing: line[range.lowerBound..<end])
            guard !first.isEmpty else { return .other }
            for (tag, bytes) in addresses where bytes.count == first.count {
                if bytes.withUnsafeBytes({ memcmp($0.baseAddress!, first.baseAddress!, bytes.count) == 0 }) { return tag }
            }
            return .other
        }
        guard record.retried else { return record.pool }
        switch record.pool {
        case .blue: return .green
        case .green: return .blue
        default: return record.pool
        }
    }
}
