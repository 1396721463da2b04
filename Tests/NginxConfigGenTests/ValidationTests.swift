import Testing
@testable import NginxConfigGen

/// A minimal valid spec; each case below replaces one line of it.
let baseSpec = """
version: 1
project: shop
proxy:
  listen: "0.0.0.0:8080"
app:
  port: 3000
pools:
  blue: {image: "shop:1", release: "v1", preview_port: 8081}
  green: {image: "shop:2", release: "v2", preview_port: 8082}
active: blue
"""

func load(_ yaml: String, variables: [String: String] = [:]) -> Result<DeploymentSpec, SpecError> {
    SpecLoader.parse(yaml: yaml, file: "bgctl.yaml", variables: variables)
}

@Suite struct ValidationTests {
    @Test func aMinimalSpecLoadsWithDefaults() throws {
        let spec = try load(baseSpec).get()
        #expect(spec.project == "shop")
        #expect(spec.active == .blue)
        #expect(spec.pool(.green).image == "shop:2")
        #expect(spec.proxy.retryOn == ["error", "timeout", "http_502", "http_503", "http_504"])
        #expect(spec.proxy.shutdownTimeout == .seconds(30))
        #expect(spec.watch.window == 200)
        #expect(spec.watch.cooldown == .seconds(300))
        #expect(spec.network.name == "shop-net")
        #expect(spec.stateDir == ".bgctl")
        #expect(spec.watcherEnabled == false)
        #expect(spec.watch.metrics.enabled && spec.watch.metrics.listen == ListenAddress(host: "127.0.0.1", port: 9464))
    }

    @Test func theMetricsAddressTakesTheWholePortRange() throws {
        for port in [1, 65_535] {
            let spec = try load(baseSpec.replacingOccurrences(of: "active: blue", with: "watch: {metrics: {enabled: false, listen: \"0.0.0.0:\(port)\"}}")).get()
            #expect(spec.watch.metrics.listen == ListenAddress(host: "0.0.0.0", port: port))
            #expect(!spec.watch.metrics.enabled)
        }
    }

    struct BadCase: Sendable, CustomStringConvertible {
        let replace: String
        let with: String
        let expected: String
        var description: String { expected }
    }

    static let badCases: [BadCase] = [
        BadCase(replace: "project: shop", with: "project: Shop!", expected: "bgctl.yaml:2:10: project: expected lowercase letters"),
        BadCase(replace: "version: 1", with: "version: 2", expected: "bgctl.yaml:1:10: version: expected version 1–1, found \"2\""),
        BadCase(replace: "  listen: \"0.0.0.0:8080\"", with: "  listen: \"0.0.0.0:99999\"", expected: "bgctl.yaml:4:11: proxy.listen: expected PORT or IPV4:PORT"),
        BadCase(replace: "  listen: \"0.0.0.0:8080\"", with: "  listn: 8080", expected: "bgctl.yaml:4:3: proxy.listn: unknown key \"listn\"; did you mean \"listen\"?"),
        BadCase(replace: "  port: 3000", with: "  port: 80a", expected: "bgctl.yaml:6:9: app.port: expected an integer 1–65535, found \"80a\""),
        BadCase(replace: "  port: 3000", with: "  port: [1]", expected: "bgctl.yaml:6:9: app.port: expected a single value, found a list"),
        BadCase(replace: "preview_port: 8082}", with: "preview_port: 70000}", expected: "bgctl.yaml:9:57: pools.green.preview_port: expected an integer 1–65535, found \"70000\""),
        BadCase(replace: "preview_port: 8082}", with: "preview_port: 8081}", expected: "pools.green.preview_port: 8081 is also pools.blue.preview_port"),
        BadCase(replace: "preview_port: 8082}", with: "preview_port: 8080}", expected: "pools.green.preview_port: 8080 is also the proxy's listen port"),
        BadCase(replace: "\"shop:2\"", with: "\"Shop:2\"", expected: "bgctl.yaml:9:18: pools.green.image: not a valid image reference: \"Shop:2\""),
        BadCase(replace: "\"shop:2\"", with: "\"shop:bad tag\"", expected: "pools.green.image: not a valid image reference"),
        BadCase(replace: "\"shop:2\"", with: "\"\"", expected: "pools.green.image: is empty"),
        BadCase(replace: "release: \"v1\"", with: "release: \"v1; } server {\"", expected: "bgctl.yaml:8:36: pools.blue.release: expected letters, digits"),
        BadCase(replace: "release: \"v1\"", with: "release: \"v1\\\"x\"", expected: "pools.blue.release: expected letters, digits"),
        BadCase(replace: "release: \"v1\"", with: "release: \"$$x\"", expected: "pools.blue.release: expected letters, digits"),
        BadCase(replace: "release: \"v1\"", with: "release: \"a\\nb\"", expected: "pools.blue.release: expected letters, digits"),
        BadCase(replace: "active: blue", with: "  red: {image: x}\nactive: blue", expected: "bgctl.yaml:10:3: pools.red: pool names are blue and green only"),
        BadCase(replace: "active: blue", with: "active: purple", expected: "bgctl.yaml:10:9: active: expected blue or green, found \"purple\""),
        BadCase(replace: "active: blue", with: "activ: blue", expected: "bgctl.yaml:10:1: activ: unknown key \"activ\"; did you mean \"active\"?"),
        BadCase(replace: "active: blue", with: "watch: {cooldown: 5 minutes}", expected: "bgctl.yaml:10:19: watch.cooldown: expected a duration"),
        BadCase(replace: "active: blue", with: "watch: {error_rate_threshold: 200}", expected: "watch.error_rate_threshold: expected a number 0.01–100, found \"200\""),
        BadCase(replace: "active: blue", with: "watch: {ignore_paths: [\"health; }\"]}", expected: "watch.ignore_paths[0]: expected a URL path"),
        BadCase(replace: "active: blue", with: "watch: {maintenance: maybe}", expected: "watch.maintenance: expected true or false, found \"maybe\""),
        BadCase(replace: "active: blue", with: "watch: {metrics: {listen: \"127.0.0.1:65536\"}}", expected: "watch.metrics.listen: expected IPV4:PORT such as 127.0.0.1:9464 (port 1–65535), found \"127.0.0.1:65536\""),
        BadCase(replace: "active: blue", with: "watch: {metrics: {listen: \"127.0.0.1:0\"}}", expected: "watch.metrics.listen: expected IPV4:PORT"),
        BadCase(replace: "active: blue", with: "watch: {metrics: {listen: \"9464\"}}", expected: "watch.metrics.listen: expected IPV4:PORT"),
        BadCase(replace: "active: blue", with: "watch: {metrics: {listen: \"localhost:9464\"}}", expected: "watch.metrics.listen: expected IPV4:PORT"),
        BadCase(replace: "active: blue", with: "watch: {metrics: {enabled: sometimes}}", expected: "watch.metrics.enabled: expected true or false"),
        BadCase(replace: "active: blue", with: "watch: {metrics: {listn: \"127.0.0.1:9464\"}}", expected: "watch.metrics.listn: unknown key \"listn\"; did you mean \"listen\"?"),
        BadCase(replace: "active: blue", with: "watch: {metrics: on}", expected: "watch.metrics: expected a mapping"),
        BadCase(replace: "active: blue", with: "pull: sometimes", expected: "pull: expected missing, always or never"),
        BadCase(replace: "active: blue", with: "network: {subnet: 10.0.0.1/24}", expected: "network.subnet: expected an IPv4 network"),
        BadCase(replace: "active: blue", with: "alerts: {slack: {webhook_url: \"ftp://hooks.example/secret-token\"}}", expected: "alerts.slack.webhook_url: expected an http:// or https:// URL (value not shown: it is a secret)"),
        BadCase(replace: "active: blue", with: "alerts: {webhooks: [{url: \"https://x.example/\", headers: {Authorization: \"a\\r\\nb\"}}]}", expected: "alerts.webhooks[0].headers.Authorization: header values must be printable ASCII"),
        BadCase(replace: "app:\n  port: 3000", with: "app:\n  port: 3000\n  health: {path: \"/h z\"}", expected: "app.health.path: expected a URL path"),
        BadCase(replace: "  listen: \"0.0.0.0:8080\"", with: "  retry_on: [error, http_5000]", expected: "proxy.retry_on[1]: unknown retry condition \"http_5000\"; did you mean \"http_500\"?"),
        BadCase(replace: "  listen: \"0.0.0.0:8080\"", with: "  retry_on: [non_idempotent]", expected: "proxy.retry_on[0]: use proxy.retry_non_idempotent: true"),
        BadCase(replace: "  listen: \"0.0.0.0:8080\"", with: "  fail_timeout: 1500ms", expected: "proxy.fail_timeout: must be whole seconds"),
        BadCase(replace: "  listen: \"0.0.0.0:8080\"", with: "  health_path: \"/x;return 200\"", expected: "proxy.health_path: expected a URL path"),
        BadCase(replace: "  listen: \"0.0.0.0:8080\"", with: "  worker_processes: \"4; user root\"", expected: "proxy.worker_processes: expected auto or an integer"),
        BadCase(replace: "app:\n  port: 3000", with: "app:\n  port: 3000\n  env: {\"BAD-NAME\": x}", expected: "app.env.BAD-NAME: not a valid environment variable name"),
        BadCase(replace: "active: blue", with: "deploy: {inconclusive: maybe}", expected: "deploy.inconclusive: expected promote, rollback or extend, found \"maybe\""),
        BadCase(replace: "active: blue", with: "deploy: {smoke: [{path: \"no-slash\"}]}", expected: "deploy.smoke[0].path: expected a URL path starting with /"),
        BadCase(replace: "active: blue", with: "deploy: {smoke: [{path: /v, status: 99}]}", expected: "deploy.smoke[0].status: expected an HTTP status 100–599"),
        BadCase(replace: "active: blue", with: "deploy: {analyz: 60s}", expected: "deploy.analyz: unknown key \"analyz\"; did you mean \"analyze\"?"),
    ]

    @Test(arguments: badCases)
    func eachMistakeIsReportedWithItsPosition(_ bad: BadCase) throws {
        let yaml = baseSpec.replacingOccurrences(of: bad.replace, with: bad.with)
        #expect(yaml != baseSpec, "the case must change the spec")
        let issues = try #require(load(yaml).failureIssues)
        #expect(issues.count == 1, "\(issues)")
        #expect(issues.first?.description.hasPrefix(bad.expected) == true || issues.first?.description.contains(bad.expected) == true,
                "\(issues.first?.description ?? "none")")
    }

    @Test func everyProblemIsReportedAtOnceInFileOrder() throws {
        let yaml = baseSpec
            .replacingOccurrences(of: "port: 3000", with: "port: 0")
            .replacingOccurrences(of: "\"shop:2\"", with: "\"Shop\"")
            .replacingOccurrences(of: "active: blue", with: "active: red")
        let issues = try #require(load(yaml).failureIssues)
        #expect(issues.map(\.path) == ["app.port", "pools.green.image", "active"])
        #expect(issues.map(\.line) == [6, 9, 10])
    }

    @Test func aSyntaxErrorCarriesLineAndColumn() throws {
        let issues = try #require(load("project: x\n  bad: [\n").failureIssues)
        #expect(issues.count == 1)
        #expect(issues[0].line == 2 && issues[0].column == 6)
        #expect(issues[0].message.hasPrefix("YAML syntax error"))
    }

    @Test func missingPoolsAndProjectAreReported() throws {
        let issues = try #require(load("version: 1\n").failureIssues)
        #expect(issues.map(\.path) == ["project", "pools"])
    }

    @Test func interpolatesValuesFromVariables() throws {
        let yaml = baseSpec
            .replacingOccurrences(of: "\"shop:1\"", with: "\"${BLUE_IMAGE}\"")
            .replacingOccurrences(of: "active: blue", with: "active: \"${ACTIVE_POOL:-blue}\"")
        let spec = try load(yaml, variables: ["BLUE_IMAGE": "registry.local:5000/shop/api:1.4", "ACTIVE_POOL": "green"]).get()
        #expect(spec.pool(.blue).image == "registry.local:5000/shop/api:1.4")
        #expect(spec.active == .green)
    }

    @Test func anUnsetImageVariableIsNamedInTheError() throws {
        let yaml = baseSpec.replacingOccurrences(of: "\"shop:1\"", with: "\"${BLUE_IMAGE}\"")
        let issues = try #require(load(yaml).failureIssues)
        #expect(issues.map(\.description) == ["bgctl.yaml:8:17: pools.blue.image: is empty (variable BLUE_IMAGE is not set); expected an image reference such as app:1.4"])
    }

    @Test func aRequiredVariableFailsWithItsMessage() throws {
        let yaml = baseSpec.replacingOccurrences(of: "\"shop:1\"", with: "\"${BLUE_IMAGE:?set the blue image}\"")
        let issues = try #require(load(yaml).failureIssues)
        #expect(issues.map(\.message) == ["BLUE_IMAGE: set the blue image"])
    }

    @Test func theDeploySectionHasDefaultsAndReadsItsKeys() throws {
        let defaults = try load(baseSpec).get().deploy
        #expect(defaults.analyze == .seconds(60) && defaults.inconclusive == .extend && defaults.smoke.isEmpty && defaults.maxP95 == nil)
        let yaml = baseSpec + "\ndeploy: {analyze: 90s, inconclusive: promote, max_p95: 800ms, smoke: [{path: /version}], lock_ttl: 10m}"
        let deploy = try load(yaml).get().deploy
        #expect(deploy.analyze == .seconds(90) && deploy.inconclusive == .promote)
        #expect(deploy.maxP95 == SpecDuration(milliseconds: 800) && deploy.lockTTL == .seconds(600))
        #expect(deploy.smoke == [SmokeCheck(path: "/version", status: 200)])
    }

    @Test func referencedVariablesThatAreSetAreKeptForTheWatcher() throws {
        let yaml = baseSpec.replacingOccurrences(of: "\"shop:1\"", with: "\"${BLUE_IMAGE:-shop:1}\"")
            + "\nalerts: {slack: {webhook_url: \"${SLACK_WEBHOOK_URL:-}\"}}"
        let spec = try load(yaml, variables: ["SLACK_WEBHOOK_URL": "https://hooks.example/x", "UNRELATED": "1"]).get()
        #expect(spec.variables.keys.sorted() == ["SLACK_WEBHOOK_URL"])
        #expect(Interpolator.references(in: "$A-${B:-${C}}-$$D") == ["A", "B", "C"])
    }

    @Test func secretsNeverAppearInDescriptions() throws {
        let yaml = baseSpec + "\nalerts: {slack: {webhook_url: \"https://hooks.slack.example/services/T0/B0/SECRET\"}}"
        let spec = try load(yaml).get()
        #expect(spec.alerts.slackWebhookURL.revealed.hasSuffix("SECRET"))
        #expect(!"\(spec)".contains("SECRET"))
        #expect(spec.watcherEnabled)
    }

    @Test(arguments: ["nginx", "nginx:1.27-alpine", "registry.local:5000/team/app:v1.2.3", "localhost/app",
                      "app@sha256:" + String(repeating: "a", count: 64), "a/b/c:tag_1.x-y", "my_app__x:1"])
    func acceptsImageReferences(_ reference: String) {
        #expect(Syntax.isImageReference(reference))
    }

    @Test(arguments: ["", "App", "app:", "app:tag with space", "app;rm", "-app", "app:-x", "app@sha256:zz",
                      "registry:99999/app", "a//b", "app..x"])
    func rejectsImageReferences(_ reference: String) {
        #expect(!Syntax.isImageReference(reference))
    }
}

extension Result where Failure == SpecError {
    var failureIssues: [SpecIssue]? {
        if case .failure(let error) = self { return error.issues }
        return nil
    }
}
