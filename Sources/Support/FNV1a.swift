/// FNV-1a, the small non-cryptographic hash bgctl stores in labels and state files. The values are
/// persisted (a container's config-hash label, the tested-configs digests), so any change here
/// recreates every container: the tests pin known values.
public struct FNV1a: Sendable, Equatable {
    public static let offsetBasis: UInt64 = 14_695_981_039_346_656_037
    public static let prime: UInt64 = 1_099_511_628_211

    /// The hash of everything added so far.
    public private(set) var value: UInt64 = FNV1a.offsetBasis

    public init() {}

    public mutating func add<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        for byte in bytes {
            value = (value ^ UInt64(byte)) &* Self.prime
        }
    }

    /// Adds the string's UTF-8 bytes.
    public mutating func add(_ string: String) {
        add(string.utf8)
    }

    /// The 64-bit hash of `parts` joined by `separator` (the same value as hashing the joined string).
    public static func hash(_ parts: [String], separator: String = "") -> UInt64 {
        var hasher = FNV1a()
        for (index, part) in parts.enumerated() {
            if index > 0 { hasher.add(separator) }
            hasher.add(part)
        }
        return hasher.value
    }

    /// The 64-bit hash of the string's UTF-8 bytes.
    public static func hash(_ string: String) -> UInt64 {
        var hasher = FNV1a()
        hasher.add(string)
        return hasher.value
    }

    /// The 32-bit variant (offset 2166136261, prime 16777619): the derived subnet of a project
    /// (`IPv4Subnet.derived`), which existing networks were created with.
    public static func hash32(_ string: String) -> UInt32 {
        var value: UInt32 = 2_166_136_261
        for byte in string.utf8 {
            value = (value ^ UInt32(byte)) &* 16_777_619
        }
        return value
    }
}
