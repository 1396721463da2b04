import Foundation
import NginxConfigGen

/// What `rollback --to` did.
public enum RollbackToOutcome: Sendable {
    /// The release already runs on the live pool: nothing was done.
    case alreadyLive(Pool, KnownRelease)
    /// It went through the deploy: staged on the idle pool, switched, analysed.
    case deployed(DeployOutcome, KnownRelease)
}

/// What `prune` decided and did.
public struct PruneOutcome: Sendable {
    public var selection: PrunePlanner.Selection
    public var plan: Plan
    /// One per removal step that ran, in order (none for a dry run).
    public var removals: [ImageRemoval]
    /// Candidates that were not on the host to begin with.
    public var absent: [String]

    /// Bytes freed by the images that are gone: each image's size, so shared layers make it an upper bound.
    public var freed: Int64 { removals.filter { $0.result == .removed }.compactMap(\.bytes).reduce(0, +) }
}

extension Stack {
    /// Puts a release from the history back through the deploy (see `deploy`): its image, its label.
    /// Before anything else, and before the lock: the release must be known and its image on this
    /// host, otherwise nothing is touched (`releaseUnknown`, `releaseImageGone`).
    public func rollback(to release: String, reason: String?, analyze: Double?, lockWait: Double) throws -> RollbackToOutcome {
        try ensureEngine()
        let history = store.history()
        guard let known = ReleaseHistory.lookup(release, history: history, spec: spec) else {
            throw OrchestratorError.releaseUnknown(release: release, known: ReleaseHistory.recent(history, spec: spec))
        }
        guard try imageOnHost(known.image) != nil else {
            throw OrchestratorError.releaseImageGone(release: release, image: known.image)
        }
        let state = try store.load()
        // Its own flags: the --env it was promoted with (values from the 0600 state), nothing of later releases.
        let flags = state?.releaseFlags?.last(where: { $0.release == known.release })
        if flags == nil && !known.env.isEmpty {
            throw OrchestratorError.releaseFlagsGone(release: known.release, image: known.image, names: known.env)
        }
        let live = state?.live ?? spec.active
        if spec.pool(live).release == known.release && spec.pool(live).image == known.image {
            return .alreadyLive(live, known)
        }
        var request = DeployRequest(image: known.image)
        request.release = known.release
        request.env = flags?.env ?? [:]
        request.analyze = analyze
        request.reason = "rollback to \(known.release)" + (reason.map { ": \($0)" } ?? "")
        return .deployed(try deploy(request, lockWait: lockWait), known)
    }

    /// The image's size in bytes (nil inside when docker does not say); nil when it is not on the host.
    func imageOnHost(_ image: String) throws -> Int64?? {
        let command = Docker.inspectImage(image)
        let result = try ports.runner.run(command, timeout: 30)
        if result.succeeded {
            let fields = result.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" })
            return .some(fields.count >= 2 ? Int64(fields[1]) : nil)
        }
        if result.failure == .imageUnavailable { return nil }
        throw OrchestratorError.classify(doing: "inspecting image \(image)", command: command, result: result)
    }

    /// Removes the images of releases older than the last `keep` in the history (see `PrunePlanner`);
    /// an image the engine refuses to remove is reported and left. Takes the lock: a deploy never
    /// loses its image halfway.
    public func prune(keep: Int, lockWait: Double) throws -> PruneOutcome {
        let started = ports.clock.monotonic()
        try ensureEngine()
        let lock = try self.lock("prune", wait: lockWait)
        defer { lock?.release() }
        try recoverInterrupted()
        let observed = try observe([.history])
        var inUse: [String: String] = [:]
        let live = observed.live(spec)
        for pool in Pool.allCases {
            let role = pool == live ? "live" : "idle"
            if let image = observed.containers[spec.containerName(pool)]?.image, !image.isEmpty {
                inUse[image] = "the image of the \(role) pool's container (\(pool.rawValue))"
            }
            inUse[spec.pool(pool).image] = inUse[spec.pool(pool).image] ?? "the image the \(role) pool (\(pool.rawValue)) is set to run"
        }
        for name in [spec.proxyContainerName, spec.watcherContainerName, spec.eventsContainerName] {
            if let image = observed.containers[name]?.image, !image.isEmpty { inUse[image] = inUse[image] ?? "the image of \(name)" }
        }
        let selection = PrunePlanner.select(history: observed.history, keep: keep, inUse: inUse)
        var present: [String: Int64?] = [:]
        var absent: [String] = []
        for candidate in selection.candidates {
            if let size = try imageOnHost(candidate.image) { present[candidate.image] = size } else { absent.append(candidate.image) }
        }
        let plan = PrunePlanner.plan(selection, present: present)
        var outcome = PruneOutcome(selection: selection, plan: plan, removals: [], absent: absent)
        guard let ran = try execute(plan, started: started) else { return outcome }
        outcome.removals = ran.removals
        let gone = ran.removals.filter { $0.result == .removed || $0.result == .untagged }.map(\.image)
        let refused = ran.removals.filter { $0.result == .refused }.map(\.image)
        var detail = gone.isEmpty ? "removed nothing" : "removed \(gone.joined(separator: ", "))"
        if !refused.isEmpty { detail += "; refused by docker: \(refused.joined(separator: ", "))" }
        try record(Record(live: nil, history: HistoryDraft(action: "prune", result: refused.isEmpty ? "ok" : "partial", detail: detail)),
                   started: started)
        return outcome
    }
}
