import Testing
@testable import NginxConfigGen

/// The rules a spec key and the flag that overrides it share: one function each, tested once here.
@Suite struct SharedRulesTests {
    @Test(arguments: [
        ("1s", DeploySpec.shortestAnalysis, Result<SpecDuration, SpecDuration.Problem>.success(.seconds(1))),
        ("999ms", DeploySpec.shortestAnalysis, .failure(.below(.seconds(1)))),
        ("500ms", DeploySpec.shortestAnalysis, .failure(.below(.seconds(1)))),
        ("0s", SpecDuration.zero, .success(.zero)),
        ("721h", SpecDuration.zero, .failure(.malformed)),
        ("abc", SpecDuration.zero, .failure(.malformed)),
    ])
    func aDurationIsCheckedAgainstTheMinimumOfItsKey(text: String, minimum: SpecDuration, expected: Result<SpecDuration, SpecDuration.Problem>) {
        #expect(SpecDuration.parse(text, atLeast: minimum) == expected)
    }

    @Test func theMessageNamesTheMinimumAndTheValueWhenAsked() {
        #expect(SpecDuration.Problem.below(.seconds(1)).message(found: "\"500ms\"") == "must be at least 1s, found \"500ms\"")
        #expect(SpecDuration.Problem.below(.seconds(1)).message(found: nil) == "must be at least 1s")
    }

    @Test func deployAnalyzeOfHalfASecondIsRefusedAsTheFlagIs() throws {
        let found = try #require(load(baseSpec + "\ndeploy: {analyze: 500ms}\n").failureIssues)
        #expect(found.map(\.message) == ["must be at least 1s, found \"500ms\""])
    }

    @Test(arguments: ["one\ntwo", "one\rtwo", "one\r\ntwo", "one\0two"])
    func anEnvironmentValueWithALineBreakOrNULIsRefused(_ value: String) {
        #expect(!Syntax.isEnvironmentValue(value))
    }

    @Test func anEnvironmentValueOfAnyOtherTextIsAccepted() {
        #expect(Syntax.isEnvironmentValue("a b\t=c ünï ${X}"))
        #expect(Syntax.isEnvironmentValue(""))
    }

    @Test func theDerivedSubnetIsTheThirtyTwoBitFNVOfTheProjectName() {
        // Pinned (as the default-blue golden file is): existing networks were created with this subnet.
        #expect(IPv4Subnet.derived(from: "shop").description == "172.29.169.0/24")
    }
}
