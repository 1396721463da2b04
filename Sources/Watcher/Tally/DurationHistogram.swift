import Foundation

/// Request times in a fixed set of logarithmic buckets, so a long analysis keeps constant memory
/// (801 counters) instead of every time.
///
/// Precision: a quantile is within 1 % of the exact nearest-rank value for times from 1 ms to about
/// 2 hours (buckets grow by 2 %, and the estimate is a bucket's geometric middle); times under 1 ms
/// share one bucket and are off by at most 0.5 ms. Estimates never leave the [smallest, largest] time
/// seen, so a run of identical times gives that time exactly.
public struct DurationHistogram: Sendable, Equatable {
    static let floor = 0.001
    static let growth = 1.02
    static let logGrowth = log(growth)
    /// Bucket 0 holds times under `floor`; bucket i ≥ 1 holds [floor·growth^(i-1), floor·growth^i);
    /// the last one also holds everything above.
    static let buckets = 801

    private var counts = [Int](repeating: 0, count: buckets)
    public private(set) var count = 0
    private var smallest = Double.infinity
    private var largest = -Double.infinity

    public init() {}

    /// Adds one time in seconds; negative and non-finite values are not times and are left out.
    public mutating func add(_ seconds: Double) {
        guard seconds.isFinite, seconds >= 0 else { return }
        counts[Self.bucket(seconds)] += 1
        count += 1
        smallest = min(smallest, seconds)
        largest = max(largest, seconds)
    }

    /// The nearest-rank quantile (`q` in 0...1), e.g. 0.95 for p95; nil when empty.
    public func quantile(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        let rank = max(1, Int((Double(count) * min(max(q, 0), 1)).rounded(.up)))
        var seen = 0
        for (index, n) in counts.enumerated() where n > 0 {
            seen += n
            if seen >= rank { return min(max(Self.middle(index), smallest), largest) }
        }
        return largest
    }

    static func bucket(_ seconds: Double) -> Int {
        guard seconds >= floor else { return 0 }
        let steps = log(seconds / floor) / logGrowth
        return min(buckets - 1, 1 + Int(steps))
    }

    static func middle(_ index: Int) -> Double {
        index == 0 ? floor / 2 : floor * pow(growth, Double(index) - 0.5)
    }
}
