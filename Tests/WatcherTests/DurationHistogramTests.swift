import FuzzSupport
import Testing
@testable import Watcher

@Suite struct DurationHistogramTests {
    /// The nearest-rank quantile of the exact values, as the deploy's analysis computed it before.
    func exact(_ values: [Double], _ q: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.up)) - 1)]
    }

    @Test(arguments: [1, 2, 3, 4, 5])
    func p95IsWithinOnePercentOfTheExactValue(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        // Milliseconds as nginx logs them, from 1 ms to 5 s, a few hundred of them.
        let values = (0..<(200 + Int(seed) * 60)).map { _ in Double(1 + rng.next() % 5000) / 1000 }
        var histogram = DurationHistogram()
        for value in values { histogram.add(value) }
        for q in [0.5, 0.95, 0.99] {
            let reference = exact(values, q)
            let estimate = histogram.quantile(q) ?? -1
            #expect(abs(estimate - reference) <= reference * 0.01, "q \(q): \(estimate) vs \(reference)")
        }
    }

    @Test func identicalTimesGiveThatTimeExactly() {
        var histogram = DurationHistogram()
        for _ in 0..<50 { histogram.add(0.123) }
        #expect(histogram.quantile(0.95) == 0.123)
        var zeros = DurationHistogram()
        for _ in 0..<10 { zeros.add(0) }
        #expect(zeros.quantile(0.95) == 0, "nginx logs 0.000 for fast requests")
    }

    @Test func timesUnderAMillisecondAreWithinHalfAMillisecond() {
        var histogram = DurationHistogram()
        for value in [0.0, 0.0002, 0.0009, 0.0009] { histogram.add(value) }
        #expect(abs((histogram.quantile(0.95) ?? -1) - 0.0009) <= 0.0005)
    }

    @Test func anEmptyHistogramHasNoQuantileAndNonTimesAreLeftOut() {
        var histogram = DurationHistogram()
        #expect(histogram.quantile(0.95) == nil)
        histogram.add(-1)
        histogram.add(.nan)
        histogram.add(.infinity)
        #expect(histogram.count == 0)
    }

    @Test func aTimeBeyondTheLastBucketIsClampedToTheLargestSeen() {
        var histogram = DurationHistogram()
        histogram.add(90_000)
        #expect(histogram.quantile(0.95) == 90_000)
    }
}
