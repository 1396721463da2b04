import Synchronization

/// `bgctl_request_duration_seconds`: request_time by pool in fixed buckets, counted per line as plain
/// integers by the loop and published by `flush()`; rendered here, after the registry's families.
///
/// Why not the library's histogram: it takes a lock and walks every bucket for each observation and
/// has no way to add a batch. With it (and a counter increment per line) `watch --once` over 200k
/// lines ran 10 % more instructions than without metrics (callgrind); counting per line here and
/// publishing per read, 1.6 %. The counters batch through `Counter.increment(by:)`; a histogram cannot.
final class DurationBuckets: Sendable {
    static let name = "bgctl_request_duration_seconds"
    static let help = "request_time of the requests in the proxy's access log, by pool."

    struct Series: Sendable, Equatable {
        /// Per bucket, not cumulative; the last one is past the largest bound (+Inf only).
        var counts: [Int]
        var sum: Double = 0
        var count: Int = 0

        init(buckets: Int) { counts = [Int](repeating: 0, count: buckets + 1) }
    }

    let bounds: [Double]
    /// Published series, by `PoolTag.rawValue`; read by any thread.
    private let published: Mutex<[Series]>

    init(bounds: [Double]) {
        self.bounds = bounds
        published = Mutex([Series](repeating: Series(buckets: bounds.count), count: PoolTag.allCases.count))
    }

    /// The bounds the loop counts against: `WatchMetrics.durationBuckets`, as comparisons the
    /// compiler can keep in registers (a test checks them against the list).
    @inline(__always)
    static func bucket(_ seconds: Double) -> Int {
        if seconds <= 0.1 {
            if seconds <= 0.01 { return seconds <= 0.005 ? 0 : 1 }
            return seconds <= 0.025 ? 2 : seconds <= 0.05 ? 3 : 4
        }
        if seconds <= 1 { return seconds <= 0.25 ? 5 : seconds <= 0.5 ? 6 : 7 }
        return seconds <= 2.5 ? 8 : seconds <= 5 ? 9 : seconds <= 10 ? 10 : 11
    }

    /// Adds the loop's pending durations and clears them.
    func publish(_ pending: PendingCounts) {
        let width = PendingCounts.width
        let ints = pending.ints, sums = pending.sums
        guard (0..<PendingCounts.pools).contains(where: { ints[PendingCounts.timed + $0] > 0 }) else { return }
        published.withLock { series in
            for pool in series.indices where ints[PendingCounts.timed + pool] > 0 {
                for index in 0..<width {
                    series[pool].counts[index] &+= ints[PendingCounts.buckets + pool * width + index]
                    ints[PendingCounts.buckets + pool * width + index] = 0
                }
                series[pool].sum += sums[pool]
                series[pool].count &+= ints[PendingCounts.timed + pool]
                sums[pool] = 0
                ints[PendingCounts.timed + pool] = 0
            }
        }
    }

    /// The family in the text format: cumulative buckets, `+Inf`, `_sum` and `_count` per pool with
    /// requests, pools in a fixed order. Nothing when no request had a request_time.
    func render(into buffer: inout [UInt8]) {
        let series = published.withLock { $0 }
        guard series.contains(where: { $0.count > 0 }) else { return }
        buffer += Array("# HELP \(Self.name) \(Self.help)\n# TYPE \(Self.name) histogram\n".utf8)
        for tag in PoolTag.allCases where series[Int(tag.rawValue)].count > 0 {
            let one = series[Int(tag.rawValue)]
            let pool = "pool=\"\(Exposition.escape(tag.name))\""
            var cumulative = 0
            for (index, bound) in bounds.enumerated() {
                cumulative &+= one.counts[index]
                buffer += Array("\(Self.name)_bucket{\(pool),le=\"\(bound)\"} \(cumulative)\n".utf8)
            }
            buffer += Array("\(Self.name)_bucket{\(pool),le=\"+Inf\"} \(one.count)\n".utf8)
            buffer += Array("\(Self.name)_sum{\(pool)} \(one.sum)\n\(Self.name)_count{\(pool)} \(one.count)\n".utf8)
        }
    }
}

/// What the loop counted since its last flush, in memory only the loop's thread touches: a count is
/// a plain add, with no exclusivity check, copy-on-write check or atomic (each costs more than the
/// add: with Swift arrays in the class the counting cost about 450 instructions a line, here about 100).
final class PendingCounts {
    static let pools = PoolTag.allCases.count
    /// Duration buckets per pool: the bounds and one past them.
    static let width = 12
    // Layout of `ints`: requests by pool * 5 + status class, duration buckets by pool * width + bucket,
    // timed requests by pool, then single counters.
    static let requests = 0
    static let buckets = requests + pools * 5
    static let timed = buckets + pools * width
    static let retries = timed + pools
    static let failovers = retries + 1
    static let lines = failovers + 1
    static let malformed = lines + 1
    static let size = malformed + 1

    let ints: UnsafeMutablePointer<Int>
    /// request_time sums by pool.
    let sums: UnsafeMutablePointer<Double>

    init() {
        ints = .allocate(capacity: Self.size)
        ints.initialize(repeating: 0, count: Self.size)
        sums = .allocate(capacity: Self.pools)
        sums.initialize(repeating: 0, count: Self.pools)
    }

    deinit {
        ints.deallocate()
        sums.deallocate()
    }

    /// Returns the count at `index` and sets it to zero.
    func take(_ index: Int) -> Int {
        let value = ints[index]
        ints[index] = 0
        return value
    }
}

/// The Prometheus text format's rules for what bgctl writes itself.
enum Exposition {
    /// A label value: backslash, double quote and newline escaped, as the format requires.
    static func escape(_ value: String) -> String {
        var escaped = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }
}
