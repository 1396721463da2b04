import NginxConfigGen

/// The steps that run docker commands, through the runner: what the executor calls for each.
extension Stack {
    /// `docker network create`; a subnet another network holds is its own error.
    func createNetwork(_ name: String, subnet: String, project: String) throws {
        let command = Docker.createNetwork(name, subnet: subnet, project: project)
        let created = try ports.runner.run(command, timeout: 60)
        guard created.succeeded else {
            if created.failure == .subnetOverlap { throw OrchestratorError.networkOverlap(network: name, subnet: subnet) }
            throw OrchestratorError.classify(doing: "creating the network", command: command, result: created)
        }
    }

    /// Runs each command a step lists (`StepAction.commands`), each required to succeed.
    func runCommands(of action: StepAction, doing: String, timeout: Double = 60) throws {
        for command in action.commands(spec) {
            try require(command, doing: doing, timeout: timeout)
        }
    }

    /// `docker run`; a failed one can leave the container behind in state Created, so it is removed.
    func runContainer(_ config: ContainerConfig, doing: String) throws {
        let command = Docker.run(config)
        let result = try ports.runner.run(command, timeout: 300)
        guard result.succeeded else {
            _ = try? ports.runner.run(Docker.remove(config.name), timeout: 30)
            throw OrchestratorError.classify(doing: doing, command: command, result: result, image: config.image,
                                             container: config.name, publish: config.publish, pull: config.pull.rawValue)
        }
    }

    /// `docker rm -f`; a container already gone is no failure.
    func removeContainer(_ name: String, doing: String) throws {
        let result = try ports.runner.run(Docker.remove(name), timeout: 60)
        if !result.succeeded && result.failure != .noSuchObject {
            throw OrchestratorError.classify(doing: doing, command: Docker.remove(name), result: result)
        }
    }

    /// `docker image rm` (never forced), reported; what it found is returned.
    func removeImage(_ image: String, bytes: Int64?) throws -> ImageRemoval {
        let command = Docker.removeImage(image)
        let result = try ports.runner.run(command, timeout: 120)
        let removal = try ImageRemoval(image: image, bytes: bytes, command: command, result: result)
        switch removal.result {
        case .removed: report(.done("removed \(image)\(bytes.map { " (\(ByteCount.text($0)))" } ?? "")"))
        case .untagged: report(.done("untagged \(image): other tags still name the image, so no space was freed"))
        case .absent: report(.done("\(image) was already gone"))
        case .refused: report(.warning("docker would not remove \(image): \(removal.detail ?? "refused"); left in place"))
        }
        return removal
    }

    /// nginx workers of an earlier configuration that are still finishing their connections.
    func shuttingDownWorkers() -> Int {
        ProxyWorkers(top: try? ports.runner.run(Docker.top(spec.proxyContainerName), timeout: 10))?.shuttingDown.count ?? 0
    }
}
