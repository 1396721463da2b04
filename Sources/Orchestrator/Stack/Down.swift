import Foundation

extension Stack {
    /// Removes bgctl's containers (proxy first, so no request is routed to a pool being removed) and
    /// its network. Logs and history stay unless `purge`.
    public func down(purge: Bool, lockWait: Double) throws -> [String] {
        try ensureEngine()
        let lock = try acquireLock("down", wait: lockWait)
        var removed: [String] = []
        do {
            defer { lock.release() }
            let containers = try inspect(allContainerNames)
            try checkOwnership(containers)
            // Drain on the way out: the proxy stops gracefully first (SIGQUIT: in-flight requests finish,
            // bounded by proxy.shutdown_timeout), so nothing is routed to the pools while they go.
            if containers[spec.proxyContainerName]?.isRunning == true {
                report(.step("stopping the proxy gracefully (at most \(spec.proxy.shutdownTimeout))"))
                let seconds = Int(spec.proxy.shutdownTimeout.seconds.rounded(.up)) + 5
                try require(Docker.stop(spec.proxyContainerName, timeout: seconds), doing: "stopping the proxy", timeout: Double(seconds + 30))
            }
            for name in [spec.proxyContainerName, spec.watcherContainerName, spec.containerName(.blue), spec.containerName(.green)]
            where containers[name] != nil {
                report(.step("removing \(name)"))
                try removeContainer(name, doing: "removing \(name)")
                removed.append(name)
            }
            let network = try runner.run(Docker.inspectNetwork(spec.network.name), timeout: 30)
            if network.succeeded {
                guard NetworkInfo(inspectOutput: network.stdout)?.labels[Docker.label] == spec.project else {
                    throw OrchestratorError.notOurs(kind: "network", name: spec.network.name, project: spec.project)
                }
                report(.step("removing network \(spec.network.name)"))
                try require(Docker.removeNetwork(spec.network.name), doing: "removing the network")
                removed.append(spec.network.name)
            }
            if !removed.isEmpty && !purge {
                try? StateStore.append(history("down", result: "ok", started: .now(), detail: removed.joined(separator: ", ")), paths)
            }
        }
        if purge && FileManager.default.fileExists(atPath: paths.stateDir) {
            // Only what bgctl writes, never the folder's other contents: state_dir may be shared.
            for path in paths.ownedPaths
            where FileManager.default.fileExists(atPath: path) {
                try FileManager.default.removeItem(atPath: path)
            }
            if (try? FileManager.default.contentsOfDirectory(atPath: paths.stateDir))?.isEmpty == true {
                try? FileManager.default.removeItem(atPath: paths.stateDir)
            }
            removed.append(paths.stateDir)
        } else if !purge, FileManager.default.fileExists(atPath: paths.stateFile) {
            // The stack is gone: the next `up` starts from the spec's `active` again.
            try? FileManager.default.removeItem(atPath: paths.stateFile)
        }
        return removed
    }
}
