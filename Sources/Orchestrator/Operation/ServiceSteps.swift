import NginxConfigGen

extension Stack {
    /// Brings the services to `live`'s release (`ServicePlanner.follow`), under the caller's lock and
    /// journal (phase `services`). Not cut short by a signal: the stop timeouts bound it. `strays`: also
    /// find, by label, service containers the spec no longer names (up). A failure is reported and
    /// recorded in the history, never thrown: the traffic move it follows stands, and `status` shows
    /// the services that are not running.
    func followServices(live: Pool, journal: JournalWriter?, strays: Bool = false) {
        let wanted = ServicePlanner.names(spec)
        guard !wanted.isEmpty || strays else { return }
        let began = ports.clock.monotonic()
        do {
            var names = wanted
            // Containers the spec no longer names (a service removed, replicas cut) are found by label:
            // always when the spec has services (after traffic moved: off the switch's path), and by up.
            if strays || !wanted.isEmpty {
                // Without services in the spec, a listing that fails has nothing to report.
                let listed = wanted.isEmpty ? ((try? labelledServices()) ?? []) : try labelledServices()
                names += listed.filter { !wanted.contains($0) }
            }
            guard !names.isEmpty else { return }
            let found = try inspect(names)
            try checkOwnership(found)
            let known = found.filter { wanted.contains($0.key) }
            let stray = found.values.filter { !wanted.contains($0.name) && $0.labels[Docker.roleLabel] == "service" }
            let steps = ServicePlanner.follow(live: live, spec: spec, pull: pull, containers: known, strays: stray)
            guard !steps.isEmpty else { return }
            journal?.phase = .services
            try execute(Plan(title: "services follow \(live.rawValue)", steps: steps), started: began, journal: journal, cancellable: false)
            guard dryRun == nil else { return }
            report(.done("services: \(live.rawValue)'s release runs \(spec.services.map { "\($0.name) ×\($0.replicas)" }.joined(separator: ", ")) (\(spec.servicesOrder.rawValue), \(String(format: "%.1f", ports.clock.monotonic() - began)) s)"))
        } catch {
            let why = Executor.describe(error)
            report(.warning("the services did not all follow \(live.rawValue): \(why); bgctl up tries again"))
            let draft = HistoryDraft(action: "services", to: live, result: "failed", detail: why)
            try? record(Record(live: nil, history: draft), started: began)
        }
    }

    /// The names of this project's service containers, from the engine's labels.
    func labelledServices() throws -> [String] {
        let command = Docker.listContainers(project: spec.project, role: "service")
        let result = try ports.runner.run(command, timeout: 30)
        guard result.succeeded else { throw OrchestratorError.classify(doing: "listing the service containers", command: command, result: result) }
        return result.stdout.split(separator: "\n").map(String.init).filter { EngineSocket.isPlainName($0) }.sorted()
    }
}
