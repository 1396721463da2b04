/// The one way bgctl prints a rate for people.
public enum Percent {
    /// `value` percent with one decimal: 2 → "2.0%", 12.46 → "12.5%", 0 → "0.0%". Tenths are rounded
    /// half away from zero after scaling by ten in Double, so 2.05 (×10 = 20.5 exactly) → "2.1%".
    /// NaN prints "-", and magnitudes beyond 10^15 print as that bound instead of trapping.
    public static func format(_ value: Double) -> String {
        guard !value.isNaN else { return "-" }
        let bounded = min(max(value, -1e15), 1e15)
        let tenths = Int((abs(bounded) * 10).rounded(.toNearestOrAwayFromZero))
        let sign = bounded < 0 && tenths > 0 ? "-" : ""
        return "\(sign)\(tenths / 10).\(tenths % 10)%"
    }
}
