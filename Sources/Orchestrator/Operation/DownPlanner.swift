import NginxConfigGen

/// What `down` does: the proxy stops gracefully first (in-flight requests finish, bounded by
/// proxy.shutdown_timeout), so nothing is routed to the pools while they go; then bgctl's containers
/// and network are removed. Only what exists gets a step. Logs and history stay unless `purge`.
public enum DownPlanner {
    /// `front`: behind the shared front, its registry. The project's part leaves the front first (a
    /// checked reload: its names then get the front's 404, the other projects keep serving), its claim
    /// goes, the front leaves its network; the front itself goes only with its last project.
    public static func plan(purge: Bool, spec: DeploymentSpec, paths: StackPaths, observed: Observed,
                            front: FrontRegistry? = nil) throws -> Plan {
        var steps: [Step] = []
        var containers = [spec.proxyContainerName, spec.watcherContainerName, spec.eventsContainerName,
                          spec.containerName(.blue), spec.containerName(.green)]
        if spec.front != nil, front == nil, observed.containers[spec.proxyContainerName] != nil {
            // A front runs but this folder holds no registry: another BGCTL_FRONT_DIR made it, or its
            // registry was deleted. Taking it down would take every project on it down.
            throw OrchestratorError.frontConflict(detail: "\(spec.proxyContainerName) runs, but \(paths.front?.registry ?? "front.json") does not exist: is BGCTL_FRONT_DIR the one the front was made with? (bgctl front status shows what this folder holds)")
        }
        if let front = front ?? (spec.front == nil ? nil : FrontRegistry.founded(by: spec, container: spec.proxyContainerName)), spec.front != nil {
            let container = observed.containers[spec.proxyContainerName]
            if let container, container.labels[Docker.roleLabel] != "front" {
                throw OrchestratorError.notOurs(kind: "container", name: container.name, project: "the shared front")
            }
            let others = front.projects.keys.filter { $0 != spec.project }.sorted()
            // The watcher first: it lives in the front's PID namespace and rotates this project's log.
            if observed.containers[spec.watcherContainerName] != nil {
                steps.append(Step("remove-\(spec.watcherContainerName)", "remove \(spec.watcherContainerName)", .removeContainer(spec.watcherContainerName)))
            }
            if observed.containers[spec.eventsContainerName] != nil {
                steps.append(Step("remove-\(spec.eventsContainerName)", "remove \(spec.eventsContainerName)", .removeContainer(spec.eventsContainerName)))
            }
            // Always, whoever else is on the front: a part left on disk would be loaded, unclaimed, by
            // the next front that starts on this folder.
            if !observed.liveFiles.isEmpty {
                steps.append(Step("leave-front", "take \(spec.project)'s part out of the shared front: its names answer 404 at once, no reload"
                                  + (others.isEmpty ? "" : " (\(others.joined(separator: ", ")) keep serving)"),
                                  .leaveFront))
            }
            if front.projects[spec.project] != nil {
                steps.append(Step("release-front", "remove \(spec.project)'s names from the front's registry", .releaseFront))
            }
            if let container {
                if others.isEmpty {
                    let seconds = Int(spec.proxy.shutdownTimeout.seconds.rounded(.up)) + 5
                    if container.isRunning {
                        steps.append(Step("drain-proxy", "stop the shared front gracefully (no other project uses it; at most \(spec.proxy.shutdownTimeout))",
                                          .stopContainer(container.name, timeout: seconds)))
                    }
                    steps.append(Step("remove-\(container.name)", "remove the shared front \(container.name)", .removeContainer(container.name)))
                } else if container.networks.contains(spec.network.name) {
                    steps.append(Step("disconnect-front", "detach the shared front from \(spec.network.name)",
                                      .disconnectNetwork(network: spec.network.name, container: container.name)))
                }
            }
            containers = [spec.containerName(.blue), spec.containerName(.green), spec.ownProxyContainerName]
        } else if observed.containers[spec.proxyContainerName]?.isRunning == true {
            let seconds = Int(spec.proxy.shutdownTimeout.seconds.rounded(.up)) + 5
            steps.append(Step("drain-proxy", "stop the proxy gracefully: requests in flight finish (at most \(spec.proxy.shutdownTimeout))",
                              .stopContainer(spec.proxyContainerName, timeout: seconds)))
        }
        // The services stop gracefully (their stop timeouts), all at once, before anything is removed.
        let services = observed.containers.values.filter { $0.labels[Docker.roleLabel] == "service" }.map(\.name).sorted()
        let stopping = services.filter { observed.containers[$0]?.isRunning == true }.map { name in
            let timeout = spec.services.first { $0.name == observed.containers[name]?.labels[Docker.serviceLabel] }.map { Int($0.stopTimeout.seconds.rounded(.up)) } ?? 30
            return Step("stop-\(name)", "stop \(name) gracefully (at most \(timeout) s)", .stopContainer(name, timeout: timeout))
        }
        if !stopping.isEmpty { steps.append(Step("stop-services", "stop the services gracefully", .together(stopping))) }
        containers += services
        var removed: [String] = []
        for name in containers where observed.containers[name] != nil {
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
                // Behind the front, the project's part goes too (its names answer 404 already).
                let part = spec.front == nil ? [] : [paths.nginxDir]
                steps.append(Step("forget-live", "delete state.json and the route: the next up starts from the spec's active pool",
                                  .removeFiles([paths.stateFile, paths.routeDir] + part)))
            }
        }
        return Plan(title: purge ? "down --purge" : "down", steps: steps, nothingToDo: "nothing to remove")
    }
}
