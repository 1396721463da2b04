import NginxConfigGen

/// What `down` does: the proxy stops gracefully first (in-flight requests finish, bounded by
/// proxy.shutdown_timeout), so nothing is routed to the pools while they go; then bgctl's containers
/// and network are removed. Only what exists gets a step. Logs and history stay unless `purge`.
public enum DownPlanner {
    public static func plan(purge: Bool, spec: DeploymentSpec, paths: StackPaths, observed: Observed) throws -> Plan {
        var steps: [Step] = []
        if observed.containers[spec.proxyContainerName]?.isRunning == true {
            let seconds = Int(spec.proxy.shutdownTimeout.seconds.rounded(.up)) + 5
            steps.append(Step("drain-proxy", "stop the proxy gracefully: requests in flight finish (at most \(spec.proxy.shutdownTimeout))",
                              .stopContainer(spec.proxyContainerName, timeout: seconds)))
        }
        var removed: [String] = []
        for name in [spec.proxyContainerName, spec.watcherContainerName, spec.containerName(.blue), spec.containerName(.green)]
        where observed.containers[name] != nil {
            steps.append(Step("remove-\(name)", "remove \(name)", .removeContainer(name)))
            removed.append(name)
        }
        if case .present(let labels, _) = observed.network {
            guard labels[Docker.label] == spec.project else {
                throw OrchestratorError.notOurs(kind: "network", name: spec.network.name, project: spec.project)
            }
            steps.append(Step("remove-network", "remove network \(spec.network.name)", .removeNetwork(spec.network.name)))
            removed.append(spec.network.name)
        }
        if purge {
            let existing = paths.ownedPaths.filter(observed.existingPaths.contains)
            if !existing.isEmpty {
                steps.append(Step("purge", "delete what bgctl wrote in \(paths.stateDir): \(existing.map(paths.relative).joined(separator: ", "))",
                                  .removeFiles(existing)))
                // Only what bgctl writes, never the folder's other contents: state_dir may be shared.
                steps.append(Step("remove-state-folder", "remove \(paths.stateDir) if nothing else is in it", .removeFolderIfEmpty(paths.stateDir)))
            }
        } else {
            if !removed.isEmpty {
                steps.append(Step("record", "record the removal in the history",
                                  .record(Record(live: nil, history: HistoryDraft(action: "down", result: "ok", detail: removed.joined(separator: ", "))))))
            }
            if observed.existingPaths.contains(paths.stateFile) {
                // The route goes too: it names the live pool as much as state.json does.
                steps.append(Step("forget-live", "delete state.json and the route: the next up starts from the spec's active pool",
                                  .removeFiles([paths.stateFile, paths.routeDir])))
            }
        }
        return Plan(title: purge ? "down --purge" : "down", steps: steps, nothingToDo: "nothing to remove")
    }
}
