import Foundation
import Testing

@Suite struct DockerUnavailableTests {
    static let commands: [[String]] = [
        ["status"], ["status", "--json"], ["up"], ["switch", "green"], ["down"], ["deploy", "--image", "x:1"],
    ]

    enum Engine: String, CaseIterable, Sendable {
        /// No docker anywhere on PATH.
        case notInstalled
        /// A docker client whose daemon does not answer.
        case daemonDown

        var message: String {
            switch self {
            case .notInstalled: return "not installed"
            case .daemonDown: return "Cannot connect to the Docker daemon"
            }
        }
    }

    @Test(arguments: commands, Engine.allCases)
    func aCommandThatNeedsDockerExits69SayingWhy(_ arguments: [String], _ engine: Engine) throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        if engine == .daemonDown { try sandbox.installFakeDocker(.daemonDown) }
        let outcome = try sandbox.run(arguments)
        #expect(outcome.status == 69, "\(outcome)")
        #expect(outcome.stderr.contains("error:"), "\(outcome)")
        #expect(outcome.stderr.contains(engine.message), "\(outcome)")
        expectOwnMessage(outcome)
    }
}

/// Text from outside (here: docker's stderr) never drives the operator's terminal.
@Suite struct TerminalSafetyTests {
    @Test func escapeSequencesInDockersOwnErrorTextReachTheTerminalEscaped() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try sandbox.installFakeDocker(.escapingEngine)
        let outcome = try sandbox.run(["status"])
        #expect(outcome.status == 69, "\(outcome)")
        #expect(outcome.stderr.contains("Cannot connect to the Docker daemon"))
        #expect(!outcome.stderr.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 }, "raw ESC or BEL reached the terminal")
    }
}

/// Dry runs against an engine with nothing of this project: the plan for what exists is printed,
/// nothing that changes the engine runs, no lock is taken.
@Suite struct DryRunTests {
    static let mutatingVerbs: Set<String> = ["run", "create", "start", "stop", "kill", "rm", "rmi", "exec", "pull", "restart"]

    /// Whether one logged docker invocation could change the engine's state.
    static func mutates(_ call: String) -> Bool {
        let words = call.split(separator: " ").map(String.init)
        guard let verb = words.first else { return false }
        if ["container", "network", "image", "volume"].contains(verb), words.count > 1 {
            return mutatingVerbs.contains(words[1]) || words[1] == "connect" || words[1] == "disconnect"
        }
        return mutatingVerbs.contains(verb)
    }

    @Test func theMutationCheckRecognisesMutatingCalls() {
        #expect(Self.mutates("run --detach --name x image"))
        #expect(Self.mutates("network create --driver bridge x"))
        #expect(Self.mutates("rm -f x"))
        #expect(Self.mutates("kill --signal HUP x"))
        #expect(Self.mutates("stop --time 5 x"))
        #expect(!Self.mutates("container inspect a b"))
        #expect(!Self.mutates("network inspect x"))
        #expect(!Self.mutates("version --format {{.Server.Version}}"))
    }

    /// The plan a dry run prints is the one the real run would execute, decided from what exists.
    @Test(arguments: [
        (["up", "--dry-run"], 0, ["up: ", "create-network: create network", "docker network create --driver bridge",
                                  "start-blue: start blue", "docker run --detach --name bgctlclitest-blue", "start-proxy: start the proxy"]),
        (["down", "--dry-run"], 0, ["down: nothing to remove"]),
        (["switch", "green", "--dry-run"], 1, ["the proxy bgctlclitest-proxy is not running; run bgctl up first"]),
        (["deploy", "--image", "x:1", "--dry-run"], 1, ["the stack is not up"]),
    ] as [([String], Int32, [String])])
    func aDryRunPrintsThePlanForWhatExistsAndRunsNothingThatMutates(_ arguments: [String], status: Int32, says: [String]) throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        try sandbox.installFakeDocker(.emptyEngine)
        let outcome = try sandbox.run(arguments)
        #expect(outcome.status == status, "\(outcome)")
        for text in says {
            #expect((outcome.stdout + outcome.stderr).contains(text), "missing \"\(text)\" in \(outcome)")
        }
        let calls = sandbox.dockerCalls()
        #expect(calls.filter(Self.mutates).isEmpty, "mutating docker calls: \(calls)\n\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.stateDirectory + "/state.json"))
        #expect(!FileManager.default.fileExists(atPath: sandbox.stateDirectory + "/lock"), "a dry run takes no lock")
        expectOwnMessage(outcome)
    }
}
