/// A span of time as written in a spec: `500ms`, `2s`, `5m`, `1h`, or a combination such as `1m30s`.
public struct SpecDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let milliseconds: Int

    public init(milliseconds: Int) {
        self.milliseconds = milliseconds
    }

    public static func seconds(_ value: Int) -> SpecDuration { SpecDuration(milliseconds: value * 1000) }

    /// Parses `500ms`, `2s`, `5m`, `1h`, `1m30s`; a bare number is seconds. Returns nil on anything else.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return nil }
        if let seconds = Int(trimmed), seconds >= 0 {
            self.milliseconds = seconds * 1000
            return
        }
        var total = 0
        var digits = ""
        var chars = Array(trimmed)[...]
        while let c = chars.first {
            if c.isASCII && c.isNumber {
                digits.append(c)
                chars = chars.dropFirst()
                continue
            }
            guard let value = Int(digits) else { return nil }
            digits = ""
            let unit: Int
            if chars.starts(with: "ms") {
                unit = 1
                chars = chars.dropFirst(2)
            } else {
                switch c {
                case "s": unit = 1000
                case "m": unit = 60_000
                case "h": unit = 3_600_000
                default: return nil
                }
                chars = chars.dropFirst()
            }
            let (product, overflow) = value.multipliedReportingOverflow(by: unit)
            guard !overflow else { return nil }
            total += product
        }
        guard digits.isEmpty else { return nil }
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
}

import Foundation
