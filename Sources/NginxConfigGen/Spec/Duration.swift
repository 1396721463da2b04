/// A span of time as written in a spec: `500ms`, `2s`, `5m`, `1h`, or a combination such as `1m30s`.
public struct SpecDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The longest duration a spec or a flag may give: 30 days. Longer is a typo, and every
    /// consumer (nginx msec values, docker's health flags, the watcher's clock) holds it easily.
    public static let maximum = SpecDuration(milliseconds: 30 * 86_400_000)

    public let milliseconds: Int

    public init(milliseconds: Int) {
        self.milliseconds = milliseconds
    }

    /// `value` seconds, clamped to `Int`'s range rather than trapping.
    public static func seconds(_ value: Int) -> SpecDuration {
        let (product, overflow) = value.multipliedReportingOverflow(by: 1000)
        return SpecDuration(milliseconds: overflow ? (value < 0 ? .min : .max) : product)
    }

    /// Parses `500ms`, `2s`, `5m`, `1h` and combinations from the largest unit down (`1h30m`,
    /// `1m30s500ms`), each unit once; a bare integer is seconds. Numbers are ASCII digits with no sign
    /// and no leading zero; no spaces. Returns nil on anything else and on more than `maximum`.
    public init?(parsing text: String) {
        let units: [(suffix: String, milliseconds: Int)] = [("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)]
        if let seconds = Syntax.integer(text) {
            let (total, overflow) = seconds.multipliedReportingOverflow(by: 1000)
            guard !overflow, total <= Self.maximum.milliseconds else { return nil }
            self.milliseconds = total
            return
        }
        var rest = Substring(text)
        var total = 0
        var nextUnit = 0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard let value = Syntax.integer(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let letters = rest.prefix { $0 == "h" || $0 == "m" || $0 == "s" }
            guard let index = units.indices.first(where: { $0 >= nextUnit && units[$0].suffix == letters }) else { return nil }
            rest = rest.dropFirst(letters.count)
            nextUnit = index + 1
            let (product, overflow) = value.multipliedReportingOverflow(by: units[index].milliseconds)
            let (sum, sumOverflow) = total.addingReportingOverflow(product)
            guard !overflow, !sumOverflow, sum <= Self.maximum.milliseconds else { return nil }
            total = sum
        }
        self.milliseconds = total
    }

    public var seconds: Double { Double(milliseconds) / 1000 }

    /// The value in nginx's millisecond syntax (`2500ms`), accepted by every msec directive.
    public var nginxMilliseconds: String { "\(milliseconds)ms" }

    public var description: String {
        if milliseconds % 3_600_000 == 0 && milliseconds > 0 { return "\(milliseconds / 3_600_000)h" }
        if milliseconds % 60_000 == 0 && milliseconds > 0 { return "\(milliseconds / 60_000)m" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }

    public static func < (lhs: SpecDuration, rhs: SpecDuration) -> Bool { lhs.milliseconds < rhs.milliseconds }

    public static let zero = SpecDuration(milliseconds: 0)

    /// What is wrong with a duration as written; the words a spec key and a flag both use.
    public enum Problem: Error, Sendable, Equatable {
        /// Not a duration, or longer than `maximum`.
        case malformed
        /// Shorter than the key or flag allows.
        case below(SpecDuration)

        /// The message; `found`: the value written, already quoted, or nil where the caller shows it.
        public func message(found: String?) -> String {
            let tail = found.map { ", found \($0)" } ?? ""
            switch self {
            case .malformed:
                return "expected a duration such as 500ms, 2s, 5m or 1h30m, at most \(SpecDuration.maximum.milliseconds / 86_400_000) days\(tail)"
            case .below(let minimum):
                return "must be at least \(minimum)\(tail)"
            }
        }
    }

    /// `text` as a duration of at least `minimum`: the one check behind every duration key and flag.
    public static func parse(_ text: String, atLeast minimum: SpecDuration) -> Result<SpecDuration, Problem> {
        guard let value = SpecDuration(parsing: text) else { return .failure(.malformed) }
        guard value >= minimum else { return .failure(.below(minimum)) }
        return .success(value)
    }
}
