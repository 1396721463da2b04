/// An amount of bytes as written in a spec: `512B`, `64KiB`, `100MiB`, `2GiB`, `1TiB`, or a bare
/// integer of bytes. Binary units only: a log limit in "MB" would be read differently by each tool.
public struct ByteSize: Sendable, Hashable, Comparable, CustomStringConvertible {
    public static let kibibyte = ByteSize(bytes: 1024)
    /// The largest size a spec may give: 1 TiB. Larger is a typo, and every consumer (docker's
    /// `max-size`, the rotation's arithmetic on `Int64`) holds it with room to spare.
    public static let maximum = ByteSize(bytes: 1 << 40)

    public let bytes: Int64

    public init(bytes: Int64) {
        self.bytes = bytes
    }

    static let units: [(suffix: String, bytes: Int64)] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)]

    /// Parses ASCII digits (no sign, no leading zero, no spaces) followed by B, KiB, MiB, GiB or TiB, or
    /// by nothing (bytes). Nil on anything else and on more than `maximum`; the multiplication is checked.
    public init?(parsing text: String) {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let suffix = text.dropFirst(digits.count)
        guard let value = Syntax.integer(digits) else { return nil }
        let scale: Int64
        if suffix.isEmpty {
            scale = 1
        } else if let unit = Self.units.first(where: { $0.suffix == suffix }) {
            scale = unit.bytes
        } else {
            return nil
        }
        let (product, overflow) = Int64(value).multipliedReportingOverflow(by: scale)
        guard !overflow, product <= Self.maximum.bytes else { return nil }
        self.bytes = product
    }

    /// The largest unit that divides the size exactly: `100MiB`, `1500B`.
    public var description: String {
        for unit in Self.units where bytes > 0 && bytes % unit.bytes == 0 {
            return "\(bytes / unit.bytes)\(unit.suffix)"
        }
        return "\(bytes)B"
    }

    /// The size for docker's `--log-opt max-size` (go-units RAMInBytes: k, m, g, t are binary).
    public var dockerSize: String {
        let units: [(String, Int64)] = [("t", 1 << 40), ("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)]
        for (suffix, scale) in units where bytes > 0 && bytes % scale == 0 {
            return "\(bytes / scale)\(suffix)"
        }
        return String(bytes)
    }

    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool { lhs.bytes < rhs.bytes }
}
