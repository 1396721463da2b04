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
