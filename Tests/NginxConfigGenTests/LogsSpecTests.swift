import Testing
@testable import NginxConfigGen

/// `logs: {max_size, keep}`: one rule per case, at its boundaries.
@Suite struct LogsSpecTests {
    func spec(_ logs: String) -> Result<DeploymentSpec, SpecError> {
        load(baseSpec.replacingOccurrences(of: "active: blue", with: "active: blue\nlogs: \(logs)"))
    }

    func problems(_ logs: String) -> [String] {
        spec(logs).failureIssues?.map(\.description) ?? []
    }

    @Test func bothKeysAreOptionalWithDefaultsOfOneHundredMebibytesAndFiveFiles() throws {
        let defaults = try load(baseSpec).get().logs
        #expect(defaults.maxSize.bytes == 100 * 1024 * 1024 && defaults.keep == 5)
        let empty = try spec("{}").get().logs
        #expect(empty == LogsSpec())
        #expect(try spec("{keep: 9}").get().logs.maxSize == LogsSpec().maxSize)
        #expect(try spec("{max_size: 2MiB}").get().logs.keep == 5)
    }

    @Test(arguments: [("1KiB", 1024), ("1024B", 1024), ("1024", 1024), ("64KiB", 65_536), ("100MiB", 104_857_600),
                      ("3GiB", 3_221_225_472), ("1TiB", 1_099_511_627_776), ("1024GiB", 1_099_511_627_776)] as [(String, Int64)])
    func sizesAreReadInBinaryUnits(_ text: String, _ bytes: Int64) throws {
        #expect(try spec("{max_size: \(text)}").get().logs.maxSize.bytes == bytes)
    }

    @Test func oneByteUnderOneKibibyteIsRefused() {
        #expect(problems("{max_size: 1023B}") == ["bgctl.yaml:11:18: logs.max_size: must be at least 1KiB, found \"1023B\""])
    }

    @Test func oneByteOverOneTebibyteIsRefused() {
        #expect(problems("{max_size: 1099511627777}").first?.hasPrefix("bgctl.yaml:11:18: logs.max_size: expected a size such as 64KiB") == true)
    }

    @Test(arguments: ["10MB", "10 MiB", "10mib", "1.5GiB", "-1KiB", "0x10KiB", "010KiB", "KiB", "", "9223372036854775807KiB"])
    func aSizeThatIsNotDigitsAndABinaryUnitIsRefused(_ text: String) {
        let found = problems("{max_size: \"\(text)\"}")
        #expect(found.count == 1 && found[0].contains("logs.max_size: expected a size such as 64KiB, 100MiB or 1GiB"), "\(found)")
    }

    @Test func keepOneAndOneThousandAreTheBounds() throws {
        #expect(try spec("{keep: 1}").get().logs.keep == 1)
        #expect(try spec("{keep: 1000}").get().logs.keep == 1000)
        #expect(problems("{keep: 0}") == ["bgctl.yaml:11:14: logs.keep: expected an integer 1–1000, found \"0\""])
        #expect(problems("{keep: 1001}") == ["bgctl.yaml:11:14: logs.keep: expected an integer 1–1000, found \"1001\""])
    }

    @Test func anUnknownKeyUnderLogsIsRefusedWithASuggestion() {
        #expect(problems("{max_sise: 1MiB}") == ["bgctl.yaml:11:8: logs.max_sise: unknown key \"max_sise\"; did you mean \"max_size\"?"])
    }

    @Test func sizesPrintInTheirLargestExactUnitForPeopleAndForDocker() {
        #expect(ByteSize(bytes: 100 << 20).description == "100MiB" && ByteSize(bytes: 100 << 20).dockerSize == "100m")
        #expect(ByteSize(bytes: 1500).description == "1500B" && ByteSize(bytes: 1500).dockerSize == "1500")
        #expect(ByteSize(bytes: 65_536).dockerSize == "64k" && ByteSize(bytes: 1 << 40).dockerSize == "1t")
    }
}
