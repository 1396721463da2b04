import Foundation
import NginxConfigGen

extension Stack {
    /// The docker commands `up` would run now, found with read-only commands; changes nothing.
    public func planUp() throws -> [DockerCommand] {
        try ensureEngine()
        let existing = try inspect(allContainerNames)
        try checkOwnership(existing)
        var commands: [DockerCommand] = []
        if !(try runner.run(Docker.inspectNetwork(spec.network.name), timeout: 30)).succeeded {
            commands.append(Docker.createNetwork(spec.network.name, subnet: spec.network.subnet.description, project: spec.project))
        }
        let state = try StateStore.load(paths)
        let live = state?.live ?? spec.active
        for pool in Pool.allCases {
            let desired = StackPlan.poolContainer(spec, pool, pull: pull)
            switch StackPlan.poolAction(desired: desired, existing: existing[desired.name], isLive: pool == live && state != nil) {
            case .create: commands.append(Docker.run(desired))
            case .start: commands.append(Docker.start(desired.name))
            case .recreate: commands += [Docker.remove(desired.name), Docker.run(desired)]
            case .keep, .keepChangedLive: break
            }
        }
        let desiredProxy = StackPlan.proxyContainer(spec, paths: paths, pull: pull)
        if let proxy = existing[desiredProxy.name], proxy.isRunning,
           proxy.labels[Docker.hashLabel] == desiredProxy.labels[Docker.hashLabel] {
            if currentFiles() != renderer.render(spec, live: live).files {
                commands += [StackPlan.nginxTest(spec, candidate: true), StackPlan.nginxReload(spec)]
            }
        } else {
            if existing[desiredProxy.name] != nil { commands.append(Docker.remove(desiredProxy.name)) }
            commands.append(Docker.run(desiredProxy))
        }
        if spec.watcherEnabled, let specFile {
            let desired = StackPlan.watcherContainer(spec, paths: paths, specFile: specFile, pull: pull)
            if let existing = existing[desired.name] {
                if existing.labels[Docker.hashLabel] != desired.labels[Docker.hashLabel] {
                    commands += [Docker.remove(desired.name), Docker.run(desired)]
                } else if !existing.isRunning {
                    commands.append(Docker.start(desired.name))
                }
            } else {
                commands.append(Docker.run(desired))
            }
        } else if existing[spec.watcherContainerName] != nil {
            commands.append(Docker.remove(spec.watcherContainerName))
        }
        return commands
    }

    /// The docker commands a switch to `target` runs, in order (between them bgctl renames files).
    public func planSwitch(to target: Pool) -> [DockerCommand] {
        [StackPlan.nginxTest(spec, candidate: true), StackPlan.nginxReload(spec)]
    }

    /// The docker commands a deploy would run, in order, found with read-only commands; changes nothing.
    public func planDeploy(_ request: DeployRequest) throws -> [DockerCommand] {
        try ensureEngine()
        guard let state = try StateStore.load(paths) else {
            throw OrchestratorError.state("the stack is not up (no \(paths.stateFile)); run bgctl up first")
        }
        let target = state.live.other
        let desired = StackPlan.poolContainer(request.applied(to: spec, on: target), target, pull: pull)
        var commands: [DockerCommand] = []
        if try inspect([desired.name])[desired.name] != nil { commands.append(Docker.remove(desired.name)) }
        commands.append(Docker.run(desired))
        if !request.noSwitch { commands += planSwitch(to: target) }
        return commands
    }
}
