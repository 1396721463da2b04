import ArgumentParser
import NginxConfigGen
import Orchestrator

extension Bgctl {
    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or update the stack: network, blue and green, then the nginx proxy.",
            discussion: "Unchanged parts are left alone. The live pool's container is never recreated while it is live.")

        @OptionGroup var options: StackOptions
        @Option(help: "Image pull policy: missing, always or never (default: the spec's `pull`).") var pull: PullPolicy?
        @Option(help: ArgumentHelp("Give up waiting for health after this long (default: from app.health).", valueName: "DURATION"))
        var timeout: String?
        @Flag(help: "Print the docker commands that would change something, and change nothing.") var dryRun = false

        func run() async throws {
            try await orchestrating {
                var stack = try options.stack()
                if let pull { stack.pull = pull }
                if let timeout { stack.healthTimeout = try DurationFlag.seconds(timeout, flag: "--timeout", positive: false) }
                if dryRun {
                    try stack.planUp().forEach { Terminal.stdout($0.description) }
                    return
                }
                let summary = try stack.up(lockWait: try options.lockWaitSeconds())
                if summary.changed {
                    Terminal.stdout("up: \(stack.spec.project) is serving \(summary.live.rawValue) on \(stack.spec.proxy.listen)")
                } else {
                    Terminal.stdout("up: nothing to change; \(stack.spec.project) is serving \(summary.live.rawValue) on \(stack.spec.proxy.listen)")
                }
            }
        }
    }
}

extension PullPolicy: ExpressibleByArgument {}
