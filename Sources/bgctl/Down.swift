import ArgumentParser
import Orchestrator

extension Bgctl {
    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove the stack's containers and network; logs and history stay unless --purge.")

        @Flag(help: "Also delete the state folder's logs, history and rendered configuration.") var purge = false
        @Flag(help: "Print the docker commands that would change something, and change nothing.") var dryRun = false
        @OptionGroup var options: StackOptions

        func run() async throws {
            try await orchestrating {
                let stack = try options.stack()
                if dryRun {
                    for name in [stack.spec.proxyContainerName, stack.spec.watcherContainerName,
                                 stack.spec.containerName(.blue), stack.spec.containerName(.green)] {
                        Terminal.stdout(Docker.remove(name).description)
                    }
                    Terminal.stdout(Docker.removeNetwork(stack.spec.network.name).description)
                    return
                }
                let removed = try stack.down(purge: purge, lockWait: try options.lockWaitSeconds())
                Terminal.stdout(removed.isEmpty ? "down: nothing to remove" : "down: removed \(removed.joined(separator: ", "))")
            }
        }
    }
}
