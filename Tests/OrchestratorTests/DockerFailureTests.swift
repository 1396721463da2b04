import Testing
@testable import Orchestrator

/// docker's stderr is read in one place; every caller asks `CommandResult.failure`.
@Suite struct DockerFailureTests {
    @Test(arguments: [
        ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?", DockerFailure.engineUnavailable),
        ("docker: Error response from daemon: driver failed programming external connectivity: Bind for 0.0.0.0:8080 failed: port is already allocated.", .portInUse),
        ("Error starting userland proxy: listen tcp4 0.0.0.0:80: bind: address already in use", .portInUse),
        ("Error response from daemon: Pool overlaps with other one on this address space", .subnetOverlap),
        ("Error response from daemon: No such image: shop:9", .imageUnavailable),
        ("Error response from daemon: pull access denied for shop, repository does not exist or may require 'docker login'", .imageUnavailable),
        ("Error response from daemon: manifest for shop:9 not found: manifest unknown: manifest unknown", .imageUnavailable),
        ("Error: No such container: shop-blue", .noSuchObject),
        ("Error: No such network: shop-net", .noSuchObject),
        ("Error response from daemon: network shop-net not found", .noSuchObject),
        // A program missing inside the image is not a missing container, network or image.
        ("Error response from daemon: failed to create task: exec: \"nginx\": executable file not found in $PATH", .other),
        ("Error response from daemon: conflict: unable to remove repository reference \"shop:1\" (must force)", .other),
    ] as [(String, DockerFailure)])
    func theEnginesWordingIsRecognised(stderr: String, expected: DockerFailure) {
        #expect(CommandResult(status: 1, stderr: stderr).failure == expected)
    }

    @Test func aCommandThatSucceededOrTimedOutHasNoFailureToRead() {
        #expect(CommandResult(status: 0, stderr: "No such container: x").failure == nil)
        #expect(CommandResult(status: 1, stderr: "No such container: x", timedOut: true).failure == nil)
    }

    @Test func classifyTurnsEachKindIntoTheErrorItsCallerNamed() {
        let command = Docker.remove("shop-blue")
        let missing = CommandResult(status: 125, stderr: "Unable to find image 'shop:9' locally\nError response from daemon: manifest unknown")
        #expect(OrchestratorError.classify(doing: "starting", command: command, result: missing, image: "shop:9")
                == .imageMissing(image: "shop:9", pull: "missing"))
        // Without an image to name, the same words are an ordinary failure with the command and its stderr.
        #expect(OrchestratorError.classify(doing: "starting", command: command, result: missing)
                == .commandFailed(doing: "starting", command: command.description, result: missing))
        let daemon = CommandResult(status: 1, stderr: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\n")
        #expect(OrchestratorError.classify(doing: "x", command: command, result: daemon).isDockerUnavailable)
    }
}
