import Testing
@testable import NginxConfigGen

/// deploy.canary and its keys: one rule per case, at its boundary and just past it.
@Suite struct CanarySpecTests {
    func deploy(_ yaml: String) -> Result<DeploymentSpec, SpecError> {
        load(baseSpec + "\ndeploy:\n" + yaml)
    }

    func issue(_ yaml: String) throws -> String {
        let issues = try #require(deploy(yaml).failureIssues)
        #expect(issues.count == 1, "\(issues)")
        return issues.first?.description ?? ""
    }

    @Test func withoutCanaryKeysADeployIsBlueGreenWithTheDocumentedDefaults() throws {
        let d = try load(baseSpec).get().deploy
        #expect(d.canary.isEmpty && d.step == .seconds(60) && d.sticky == .off)
        #expect(d.canaryMinRequests == 20 && d.canaryMaxErrorDiff == 1 && d.canaryMaxRetryDiff == 1)
        #expect(d.canaryP95Ratio == 1.5 && d.canaryP95Floor == SpecDuration(milliseconds: 50))
    }

    @Test func theCanaryKeysAreRead() throws {
        let d = try deploy("""
          canary: [5, 25, 50]
          step: 2m
          canary_min_requests: 50
          canary_max_error_diff: 0.5
          canary_max_retry_diff: 2
          canary_p95_ratio: 2
          canary_p95_floor: 100ms
          sticky: cookie
        """).get().deploy
        #expect(d.canary == [5, 25, 50] && d.step == .seconds(120) && d.canaryMinRequests == 50)
        #expect(d.canaryMaxErrorDiff == 0.5 && d.canaryMaxRetryDiff == 2 && d.canaryP95Ratio == 2)
        #expect(d.canaryP95Floor == SpecDuration(milliseconds: 100) && d.sticky == .cookie)
    }

    @Test(arguments: ["  canary: [1, 99]", "  canary: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]", "  canary: []", "  canary:", "  sticky: off",
                      "  sticky: false", "  step: 1s", "  step: 720h", "  canary_max_error_diff: 0", "  canary_p95_ratio: 1",
                      "  canary_p95_floor: 0ms", "  canary_min_requests: 1"])
    func valuesAtTheirBoundariesAreAccepted(_ line: String) throws {
        _ = try deploy(line).get()
    }

    @Test(arguments: [
        ("  canary: [0, 5]", "deploy.canary[0]: expected a percentage 1–99, found 0"),
        ("  canary: [5, 100]", "deploy.canary[1]: expected a percentage 1–99, found 100"),
        ("  canary: [5, -1]", "deploy.canary[1]: expected a percentage 1–99, found \"-1\""),
        ("  canary: [5, 2.5]", "deploy.canary[1]: expected a percentage 1–99, found \"2.5\""),
        ("  canary: [25, 25]", "deploy.canary[1]: 25 is not above the step before it (25); steps must be strictly increasing"),
        ("  canary: [50, 25]", "deploy.canary[1]: 25 is not above the step before it (50); steps must be strictly increasing"),
        ("  canary: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]", "deploy.canary: at most 10 steps, found 11"),
        ("  canary: 5", "deploy.canary: expected a list, found \"5\""),
        ("  step: 0s", "deploy.step: must be at least 1s, found \"0s\""),
        ("  step: 999ms", "deploy.step: must be at least 1s, found \"999ms\""),
        ("  step: 721h", "deploy.step: expected a duration"),
        ("  canary_min_requests: 0", "deploy.canary_min_requests: expected an integer 1–1000000, found \"0\""),
        ("  canary_max_error_diff: 101", "deploy.canary_max_error_diff: expected a number 0–100, found \"101\""),
        ("  canary_max_retry_diff: -1", "deploy.canary_max_retry_diff: expected a number 0–100, found \"-1\""),
        ("  canary_p95_ratio: 0.9", "deploy.canary_p95_ratio: expected a number 1–100, found \"0.9\""),
        ("  canary_p95_floor: 5 ms", "deploy.canary_p95_floor: expected a duration"),
        ("  sticky: ip", "deploy.sticky: expected cookie or off, found \"ip\""),
        ("  canry: [5]", "deploy.canry: unknown key \"canry\"; did you mean \"canary\"?"),
    ])
    func eachMistakeIsReportedWithItsKey(_ line: String, _ expected: String) throws {
        let found = try issue(line)
        #expect(found.contains(expected), "\(found)")
    }

    @Test func everyBadStepIsReportedAtOnce() throws {
        let issues = try #require(deploy("  canary: [0, 50, 40]").failureIssues)
        #expect(issues.map(\.path) == ["deploy.canary[0]", "deploy.canary[2]"])
    }

    @Test(arguments: [("5,25,50", [5, 25, 50]), ("none", []), (" 1 , 99 ", [1, 99]), ("10", [10])])
    func theFlagsStepsAreParsed(_ text: String, _ steps: [Int]) throws {
        #expect(try CanarySteps.parse(text).get() == steps)
    }

    @Test(arguments: [
        ("0,5", "expected a percentage 1–99, found 0"),
        ("5,100", "expected a percentage 1–99, found 100"),
        ("5,5", "5 is not above the step before it (5)"),
        ("5,,25", "expected whole percentages separated by commas (e.g. 5,25,50) or none, found \"\""),
        ("5%", "expected whole percentages separated by commas"),
        ("", "expected whole percentages separated by commas"),
        ("1,2,3,4,5,6,7,8,9,10,11", "at most 10 steps, found 11"),
    ])
    func aBadFlagValueSaysWhy(_ text: String, _ expected: String) {
        guard case .failure(let problem) = CanarySteps.parse(text) else { Issue.record("accepted \(text)"); return }
        #expect(problem.message.contains(expected), "\(problem.message)")
    }
}

@Suite struct CanaryRenderTests {
    let spec = try! load(baseSpec).get()
    let renderer = try! ConfigRenderer(templatesDirectory: GoldenTests.templates)

    /// A canary's share is in the route, not the configuration: every configuration puts each request
    /// in one of `Route.buckets` buckets and asks the route whether its bucket goes to the canary.
    @Test func everyConfigurationSplitsRequestsIntoTheBucketsTheRouteHandsOut() throws {
        let site = try #require(renderer.render(spec).files[RenderedConfig.siteFile])
        let split = try #require(site.components(separatedBy: "split_clients \"$bgctl_client\" $bgctl_bucket {\n").dropFirst().first)
            .components(separatedBy: "\n}\n")[0].split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(split == (0..<(Route.buckets - 1)).map { "1% \($0);" } + ["* \(Route.buckets - 1);"])
        #expect(site.contains("if (-f /bgctl/conf/route/current/c$bgctl_bucket) {"))
        #expect(site.contains("if (-f /bgctl/conf/route/current/sticky) {"))
        #expect(!site.contains("weight="), "no weights: moving a canary's share needs no reload")
    }

    /// The route names the live pool; a request in a canary's bucket goes to the other one.
    @Test func aCanaryBucketGoesToTheOtherPool() throws {
        let site = try #require(renderer.render(spec).files[RenderedConfig.siteFile])
        for line in ["\"blue:\"  blue;", "\"blue:1\" green;", "\"green:\" green;", "\"green:1\" blue;"] {
            #expect(site.contains("    \(line)\n"), "\(line)")
        }
        #expect(site.contains("proxy_pass http://bgctl_$bgctl_target;"))
    }

    @Test func aCanaryOnTheLivePoolIsNoCanary() {
        let route = Route(live: .blue, canary: CanaryRouting(pool: .blue, percent: 5))
        #expect(route == Route(live: .blue))
        #expect(route.canary == nil && route.folderName == "blue")
    }

    @Test func weightsComeBackFromWhatStateRecords() {
        let routing = CanaryRouting(pool: .green, percent: 5)
        #expect(routing.weights == ["blue": 95, "green": 5])
        #expect(CanaryRouting(weights: routing.weights, live: .blue, sticky: false) == routing)
        #expect(CanaryRouting(weights: ["blue": 100, "green": 0], live: .blue, sticky: false) == nil)
        #expect(CanaryRouting(weights: ["blue": 90, "green": 5], live: .blue, sticky: false) == nil)
        #expect(CanaryRouting(weights: nil, live: .blue, sticky: false) == nil)
    }
}
