import Testing
@testable import NginxConfigGen

/// `hooks`: each point takes an argv; each rule on its own.
@Suite struct HooksSpecTests {
    static func spec(_ hooks: String) -> Result<DeploymentSpec, SpecError> {
        load(baseSpec + "\nhooks:\n" + hooks)
    }

    @Test func eachPointTakesAnArgvAndTheTimeoutItsBound() throws {
        let spec = try Self.spec("  timeout: 1h\n  pre_deploy: [./migrate.sh, --check]\n  post_deploy: [/usr/bin/notify]\n"
                                 + "  post_switch: [notify-switch]\n  post_rollback: [page, \"\"]\n").get()
        #expect(spec.hooks.commands[.preDeploy] == ["./migrate.sh", "--check"])
        #expect(spec.hooks.commands[.postRollback] == ["page", ""], "an empty argument after the command is an argument")
        #expect(spec.hooks.timeout == .seconds(3600))
        #expect(try load(baseSpec).get().hooks.commands.isEmpty)
    }

    @Test(arguments: [
        ("  pre_deplo: [x]\n", "hooks.pre_deplo: unknown key"),
        ("  pre_deploy: ./migrate.sh\n", "hooks.pre_deploy: expected a list"),
        ("  pre_deploy: [\"\"]\n", "the command (the first item) is empty"),
        ("  pre_deploy: [\"a\\tb\"]\n", "argument 0: no control characters"),
        ("  pre_deploy: [x, \"a\\nb\"]\n", "argument 1: no control characters"),
        ("  timeout: 0s\n", "hooks.timeout"),
        ("  timeout: 61m\n", "at most 1h"),
    ])
    func aHookBreakingOneRuleIsRefused(_ hooks: String, _ why: String) {
        guard case .failure(let error) = Self.spec(hooks) else { Issue.record("accepted \(hooks)"); return }
        #expect(error.description.contains(why), "\(error)")
    }

    @Test func sixtyFourArgumentsAreTakenAndOneMoreIsNot() throws {
        let args = (0..<64).map { "a\($0)" }
        #expect(try Self.spec("  pre_deploy: [\(args.joined(separator: ", "))]\n").get().hooks.commands[.preDeploy]?.count == 64)
        guard case .failure(let error) = Self.spec("  pre_deploy: [\((args + ["a64"]).joined(separator: ", "))]\n") else {
            Issue.record("accepted 65"); return
        }
        #expect(error.description.contains("at most 64 arguments, found 65"))
    }
}

/// `deploy.before_switch`: a list of argv lists run in the new release; each rule on its own.
@Suite struct BeforeSwitchSpecTests {
    static func spec(_ deploy: String) -> Result<DeploymentSpec, SpecError> {
        load(baseSpec + "\ndeploy:\n" + deploy)
    }

    @Test func eachCommandIsAnArgvAndTheTimeoutDefaultsToTenMinutes() throws {
        let spec = try Self.spec("  before_switch:\n    - [/app/migrate, --up]\n    - [/app/warm, \"\"]\n").get()
        #expect(spec.deploy.beforeSwitch == [["/app/migrate", "--up"], ["/app/warm", ""]])
        #expect(spec.deploy.beforeSwitchTimeout == .seconds(600))
        #expect(try load(baseSpec).get().deploy.beforeSwitch.isEmpty)
        #expect(try Self.spec("  before_switch: []\n").get().deploy.beforeSwitch.isEmpty)
        #expect(try Self.spec("  before_switch: null\n").get().deploy.beforeSwitch.isEmpty)
    }

    @Test(arguments: [
        ("  before_switch: [/app/migrate]\n", "deploy.before_switch[0]: expected a list"),
        ("  before_switch: /app/migrate\n", "deploy.before_switch: expected a list"),
        ("  before_switch: [[]]\n", "deploy.before_switch[0]: an empty command"),
        ("  before_switch: [[\"\"]]\n", "the command (the first item) is empty"),
        ("  before_switch: [[\"a\\tb\"]]\n", "argument 0: no control characters"),
        ("  before_switch: [[x], [x, \"a\\nb\"]]\n", "deploy.before_switch[1]: argument 1: no control characters"),
        ("  before_switch_timeout: 0s\n", "deploy.before_switch_timeout"),
        ("  before_switch_timeout: 361m\n", "at most 6h"),
        ("  before_switch_timout: 1m\n", "deploy.before_switch_timout: unknown key"),
    ])
    func aCommandBreakingOneRuleIsRefused(_ deploy: String, _ why: String) {
        guard case .failure(let error) = Self.spec(deploy) else { Issue.record("accepted \(deploy)"); return }
        #expect(error.description.contains(why), "\(error)")
    }

    @Test func sixHoursIsTheLongestTimeout() throws {
        #expect(try Self.spec("  before_switch_timeout: 6h\n").get().deploy.beforeSwitchTimeout == .seconds(21_600))
        #expect(try Self.spec("  before_switch_timeout: 1s\n").get().deploy.beforeSwitchTimeout == .seconds(1))
    }

    @Test func twentyCommandsAreTakenAndOneMoreIsNot() throws {
        let commands = (0..<20).map { "[c\($0)]" }
        #expect(try Self.spec("  before_switch: [\(commands.joined(separator: ", "))]\n").get().deploy.beforeSwitch.count == 20)
        guard case .failure(let error) = Self.spec("  before_switch: [\((commands + ["[c20]"]).joined(separator: ", "))]\n") else {
            Issue.record("accepted 21"); return
        }
        #expect(error.description.contains("at most 20 commands, found 21"))
    }

    @Test func sixtyFourArgumentsInACommandAreTakenAndOneMoreIsNot() throws {
        let args = (0..<64).map { "a\($0)" }
        #expect(try Self.spec("  before_switch: [[\(args.joined(separator: ", "))]]\n").get().deploy.beforeSwitch.first?.count == 64)
        guard case .failure(let error) = Self.spec("  before_switch: [[\((args + ["a64"]).joined(separator: ", "))]]\n") else {
            Issue.record("accepted 65"); return
        }
        #expect(error.description.contains("at most 64 arguments, found 65"))
    }
}

/// `services` and `services_order`; each rule on its own.
@Suite struct ServicesSpecTests {
    static func spec(_ text: String) -> Result<DeploymentSpec, SpecError> {
        load(baseSpec + "\n" + text)
    }

    @Test func aServiceTakesACommandReplicasAStopTimeoutAndVariables() throws {
        let spec = try Self.spec("services:\n  worker: {command: [worker, --queue, mail], replicas: 3, stop_timeout: 45s, env: {QUEUE: mail}}\n"
                                 + "  cron: {command: [scheduler]}\nservices_order: start-first\n").get()
        #expect(spec.services.map(\.name) == ["cron", "worker"], "by name")
        let worker = spec.services[1]
        #expect(worker.command == ["worker", "--queue", "mail"] && worker.replicas == 3 && worker.stopTimeout == .seconds(45) && worker.env == ["QUEUE": "mail"])
        #expect(spec.services[0].replicas == 1 && spec.services[0].stopTimeout == .seconds(30))
        #expect(spec.servicesOrder == .startFirst)
        #expect(try load(baseSpec).get().servicesOrder == .stopFirst)
    }

    @Test(arguments: [
        ("services:\n  Worker: {command: [w]}\n", "services.Worker: expected a service name"),
        ("services:\n  1worker: {command: [w]}\n", "services.1worker: expected a service name"),
        ("services:\n  work_er: {command: [w]}\n", "services.work_er: expected a service name"),
        ("services:\n  worker: {}\n", "services.worker.command: missing"),
        ("services:\n  worker: {command: []}\n", "services.worker.command: an empty command"),
        ("services:\n  worker: {command: worker}\n", "services.worker.command: expected a list"),
        ("services:\n  worker: {command: [w], replicas: 21}\n", "services.worker.replicas: expected an integer 0–20"),
        ("services:\n  worker: {command: [w], replicas: -1}\n", "services.worker.replicas"),
        ("services:\n  worker: {command: [w], stop_timeout: 601s}\n", "expected whole seconds up to 10m"),
        ("services:\n  worker: {command: [w], stop_timeout: 1500ms}\n", "expected whole seconds up to 10m"),
        ("services:\n  worker: {command: [w], env: {1A: x}}\n", "services.worker.env.1A: not a valid environment variable name"),
        ("services:\n  worker: {command: [w], replica: 2}\n", "services.worker.replica: unknown key"),
        ("services_order: rolling\n", "services_order: expected stop-first or start-first"),
    ])
    func aServiceBreakingOneRuleIsRefused(_ text: String, _ why: String) {
        guard case .failure(let error) = Self.spec(text) else { Issue.record("accepted \(text)"); return }
        #expect(error.description.contains(why), "\(error)")
    }

    @Test func theBoundsAreTakenExactly() throws {
        let long = String(repeating: "a", count: 30)
        #expect(try Self.spec("services:\n  \(long): {command: [w], replicas: 20, stop_timeout: 10m}\n").get().services.first?.replicas == 20)
        #expect(try Self.spec("services:\n  worker: {command: [w], replicas: 0, stop_timeout: 0s}\n").get().services.first?.replicas == 0)
        guard case .failure(let error) = Self.spec("services:\n  \(long)a: {command: [w]}\n") else { Issue.record("accepted 31"); return }
        #expect(error.description.contains("expected a service name"))
    }

    @Test func twentyServicesAreTakenAndOneMoreIsNot() throws {
        let twenty = (0..<20).map { "  s\($0): {command: [w]}\n" }.joined()
        #expect(try Self.spec("services:\n" + twenty).get().services.count == 20)
        guard case .failure(let error) = Self.spec("services:\n" + twenty + "  s20: {command: [w]}\n") else { Issue.record("accepted 21"); return }
        #expect(error.description.contains("at most 20 services, found 21"))
    }
}
