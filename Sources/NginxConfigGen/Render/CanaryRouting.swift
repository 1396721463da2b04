/// A canary in progress: the share of requests the new release's pool gets beside the live pool,
/// which stays the baseline until the promotion.
public struct CanaryRouting: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The pool running the new release.
    public var pool: Pool
    /// Its share of requests, 1–99 (`CanarySteps.percents`).
    public var percent: Int
    /// Clients keep their pool through a cookie (`deploy.sticky: cookie`).
    public var sticky: Bool

    public init(pool: Pool, percent: Int, sticky: Bool = false) {
        self.pool = pool
        self.percent = percent
        self.sticky = sticky
    }

    /// The pool serving the rest: the live one.
    public var baseline: Pool { pool.other }

    /// Percent of requests `of` gets; nginx takes the percentages as they are as weights (weight=5 and
    /// weight=95: 5 of every 100 requests; nginx allows weights up to 1000).
    public func weight(_ of: Pool) -> Int { of == pool ? percent : 100 - percent }

    /// `{"blue": 95, "green": 5}`: what state.json and `status --json` show.
    public var weights: [String: Int] { Dictionary(uniqueKeysWithValues: Pool.allCases.map { ($0.rawValue, weight($0)) }) }

    /// The routing that `weights` (as state.json holds them) and the live pool describe; nil when they
    /// describe none (absent, or not a canary beside `live`).
    public init?(weights: [String: Int]?, live: Pool, sticky: Bool) {
        guard let weights, let canary = weights[live.other.rawValue], let baseline = weights[live.rawValue],
              CanarySteps.percents.contains(canary), baseline == 100 - canary else { return nil }
        self.init(pool: live.other, percent: canary, sticky: sticky)
    }

    public var description: String { "\(pool.rawValue) \(percent)%, \(baseline.rawValue) \(100 - percent)%\(sticky ? " (sticky)" : "")" }
}
