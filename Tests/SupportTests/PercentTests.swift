import Testing
import Support

struct PercentTests {
    @Test(arguments: [
        (0.0, "0.0%"), (2, "2.0%"), (2.04, "2.0%"), (2.05, "2.1%"), (12.5, "12.5%"), (8.333, "8.3%"),
        (0.04, "0.0%"), (99.96, "100.0%"), (100, "100.0%"),
    ])
    func aRatePrintsWithOneDecimal(value: Double, text: String) {
        #expect(Percent.format(value) == text)
    }

    @Test func aNegativeRateKeepsItsSignAndANegativeZeroDropsIt() {
        #expect(Percent.format(-1.25) == "-1.3%")
        #expect(Percent.format(-0.01) == "0.0%")
    }

    @Test func valuesThatCannotBeAnIntegerPrintWithoutTrapping() {
        #expect(Percent.format(.nan) == "-")
        #expect(Percent.format(.infinity) == "1000000000000000.0%")
    }
}
