import Foundation
import Testing
@testable import Orchestrator

/// Times in state, history and the engine's inspect output, read and written without Foundation's
/// formatter: each form the engine and bgctl write reads back, and nothing else reads as a time.
@Suite struct ISOTimeTests {
    @Test(arguments: [
        (1_800_000_000.0, "2027-01-15T08:00:00.000Z"),
        (1_800_000_000.5, "2027-01-15T08:00:00.500Z"),
        (1_800_000_000.999, "2027-01-15T08:00:00.999Z"),
        (0.0, "1970-01-01T00:00:00.000Z"),
        (951_782_400.0, "2000-02-29T00:00:00.000Z"),
        (-1.0, "1969-12-31T23:59:59.000Z"),
    ])
    func aTimeIsWrittenInUTCWithMilliseconds(_ seconds: Double, _ text: String) {
        #expect(ISOTime.format(Date(timeIntervalSince1970: seconds)) == text)
        #expect(ISOTime.parse(text).map { ($0.timeIntervalSince1970 * 1000).rounded() } == (seconds * 1000).rounded())
    }

    @Test func whatFoundationWroteReadsTheSame() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for seconds in stride(from: 0.0, to: 4_000_000_000, by: 97_654_321.123) {
            let date = Date(timeIntervalSince1970: (seconds * 1000).rounded(.down) / 1000)
            #expect(ISOTime.format(date) == formatter.string(from: date), "\(seconds)")
        }
    }

    @Test(arguments: [
        ("2026-11-26T10:00:00.123456789Z", 1_795_687_200.123456789),
        ("2026-11-26T10:00:00Z", 1_795_687_200.0),
        ("2026-11-26T11:30:00+01:30", 1_795_687_200.0),
        ("2026-11-26T08:00:00.5-02:00", 1_795_687_200.5),
    ])
    func theEnginesNanosecondsAndOffsetsAreRead(_ text: String, _ seconds: Double) throws {
        let date = try #require(ISOTime.parse(text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 1e-6)
    }

    @Test(arguments: [
        "", "2026-11-26", "2026-11-26T10:00:00", "2026-11-26 10:00:00Z", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z",
        "2026-02-30T00:00:00Z", "2026-11-32T00:00:00Z", "2026-11-26T24:00:00Z", "2026-11-26T10:60:00Z",
        "2026-11-26T10:00:61Z", "2026-11-26T10:00:00.Z", "2026-11-26T10:00:00+0100", "2026-11-26T10:00:00+24:00",
        "2026-11-26T10:00:00Zjunk", "0001-01-01T00:00:00ZZ", "2026-1l-26T10:00:00Z", "+026-11-26T10:00:00Z",
    ])
    func anythingElseIsNoTime(_ text: String) {
        #expect(ISOTime.parse(text) == nil)
    }

    @Test func theEnginesZeroTimeOfAContainerNeverStartedReads() {
        #expect(ISOTime.parse("0001-01-01T00:00:00Z")?.timeIntervalSince1970 == -62_135_596_800)
    }

    @Test func aTimeOutsideYearsZeroToNineThousandIsClamped() {
        #expect(ISOTime.format(Date(timeIntervalSince1970: 1e15)) == "9999-12-31T23:59:59.999Z")
        #expect(ISOTime.format(Date(timeIntervalSince1970: .nan)) == "1970-01-01T00:00:00.000Z")
    }
}
