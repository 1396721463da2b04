import Testing
@testable import Support

struct FNV1aTests {
    // Published FNV-1a test vectors: a changed value would recreate every labelled container.
    @Test(arguments: [("", 0xcbf2_9ce4_8422_2325 as UInt64), ("a", 0xaf63_dc4c_8601_ec8c), ("foobar", 0x8594_4171_f739_67e8)])
    func theSixtyFourBitHashMatchesTheReferenceVectors(input: String, expected: UInt64) {
        #expect(FNV1a.hash(input) == expected)
    }

    @Test func hashingPartsWithASeparatorEqualsHashingTheJoinedString() {
        let parts = ["web", "nginx:1.27", "", "a=b"]
        #expect(FNV1a.hash(parts, separator: "\u{1F}") == FNV1a.hash(parts.joined(separator: "\u{1F}")))
    }

    @Test func addingPiecesEqualsHashingTheWhole() {
        var hasher = FNV1a()
        hasher.add("foo")
        hasher.add([UInt8(ascii: "b"), UInt8(ascii: "a"), UInt8(ascii: "r")])
        #expect(hasher.value == FNV1a.hash("foobar"))
    }

    @Test(arguments: [("a", 0xe40c_292c as UInt32), ("foobar", 0xbf9c_f968)])
    func theThirtyTwoBitHashMatchesTheReferenceVectors(input: String, expected: UInt32) {
        #expect(FNV1a.hash32(input) == expected)
    }
}
