/// Counts the proxy's access log from a moment on, for a deploy: its analysis after the switch and
/// its drain before replacing a pool. Reads through `Tailer` (rotation, truncation, partial lines)
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

    public init(path: String, rules: LogRules) {
        self.path = path
        self.rules = rules
    }

    /// Starts counting at the log's current end: lines already there are not counted. A log that does
    /// not exist yet is read from its start once it appears. Calling it again starts over from zero.
    public func begin() {
        tailer = Tailer(path: path, fromStart: false)
        counted = TallyFigures()
        times = DurationHistogram()
        malformedLines = 0
        pools = [PoolTally](repeating: PoolTally(), count: PoolTag.allCases.count)
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
        counted.requests += 1
        if rules.isError(status: record.status) { counted.errors += 1 }
        if rules.isRetried(record) { counted.retried += 1 }
        if rules.isFailover(record) { counted.failovers += 1 }
        if record.requestTime >= 0 { times.add(record.requestTime) }
    }
}
