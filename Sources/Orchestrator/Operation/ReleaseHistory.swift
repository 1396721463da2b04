import NginxConfigGen

/// A release bgctl knows: its label and the image it ran, from the history (or the spec's pools).
public struct KnownRelease: Sendable, Equatable {
    public var release: String
    public var image: String
    /// When it was last deployed (the history entry's time); nil for a release the spec names.
    public var at: String?
    /// The variables its `--env` set at that deploy (names only).
    public var env: [String]

    public init(release: String, image: String, at: String?, env: [String] = []) {
        self.release = release
        self.image = image
        self.at = at
        self.env = env
    }
}

/// The releases in bgctl's history, read without acting: what `rollback --to` looks up and what
/// `prune` keeps. Only deploys that were promoted count: a release that failed its analysis (rolled
/// back, aborted) or was only staged is no release to go back to, and must not push a good one out of
/// the kept set. An entry whose release or image is not well-formed (history.jsonl is a file on disk,
/// not a trusted source) is skipped.
public enum ReleaseHistory {
    /// Each release once, at its most recent deploy, oldest first.
    public static func releases(_ history: [HistoryEntry]) -> [KnownRelease] {
        var latest: [String: Int] = [:]
        var releases: [KnownRelease] = []
        for entry in history where entry.action == "deploy" && entry.result == "promoted" {
            guard let release = entry.release, let image = entry.image,
                  Syntax.isReleaseValue(release), Syntax.isImageReferenceValue(image) else { continue }
            if let index = latest[release] { releases[index].at = nil }
            latest[release] = releases.count
            releases.append(KnownRelease(release: release, image: image, at: entry.time,
                                         env: (entry.env ?? []).filter(Syntax.isEnvironmentNameValue)))
        }
        // Earlier deploys of a release were marked (at = nil) and are dropped: one row per release.
        return releases.enumerated().filter { latest[$0.element.release] == $0.offset }.map(\.element)
    }

    /// What `rollback --to` deploys for `release`: its most recent deploy in the history, else the
    /// pool of the spec (bgctl.yaml as written) that names it.
    public static func lookup(_ release: String, history: [HistoryEntry], spec: DeploymentSpec) -> KnownRelease? {
        if let found = releases(history).last(where: { $0.release == release }) { return found }
        for pool in Pool.allCases where !release.isEmpty && spec.pool(pool).release == release && !spec.pool(pool).image.isEmpty {
            return KnownRelease(release: release, image: spec.pool(pool).image, at: nil)
        }
        return nil
    }

    /// The last `count` release labels, newest first: what an unknown release is answered with.
    public static func recent(_ history: [HistoryEntry], spec: DeploymentSpec, count: Int = 5) -> [String] {
        var labels = releases(history).reversed().map(\.release)
        for pool in Pool.allCases where !spec.pool(pool).release.isEmpty && !labels.contains(spec.pool(pool).release) {
            labels.append(spec.pool(pool).release)
        }
        return Array(labels.prefix(count))
    }
}
