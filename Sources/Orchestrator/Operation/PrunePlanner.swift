import Foundation
import NginxConfigGen

/// What `prune` removes: the images of releases older than the last `keep` in the history, never an
/// image a pool runs or is set to run, never an image a kept release shares, and never anything the
/// history does not name. Pure: the history, what is in use and which images are on the host come in.
public enum PrunePlanner {
    public struct Kept: Sendable, Equatable {
        public var release: String
        public var image: String
        public var reason: String
    }

    public struct Candidate: Sendable, Equatable {
        public var image: String
        /// The releases that ran it, oldest first.
        public var releases: [String]
    }

    public struct Selection: Sendable, Equatable {
        public var keep: Int
        public var kept: [Kept]
        public var candidates: [Candidate]
    }

    /// `inUse`: image → why it must stay (the pools' containers and the images the pools are set to run).
    public static func select(history: [HistoryEntry], keep: Int, inUse: [String: String]) -> Selection {
        let releases = ReleaseHistory.releases(history)
        let recent = Set(releases.suffix(max(0, keep)).map(\.release))
        var kept: [Kept] = []
        var keptImages: [String: String] = [:]
        for release in releases.reversed() {
            if recent.contains(release.release) {
                kept.append(Kept(release: release.release, image: release.image, reason: "one of the last \(keep) releases"))
                keptImages[release.image] = keptImages[release.image] ?? release.release
            } else if let why = inUse[release.image] {
                kept.append(Kept(release: release.release, image: release.image, reason: why))
            }
        }
        var candidates: [Candidate] = []
        for release in releases where !recent.contains(release.release) && inUse[release.image] == nil {
            if let sharer = keptImages[release.image] {
                kept.append(Kept(release: release.release, image: release.image, reason: "its image is also release \(sharer)'s, which is kept"))
                continue
            }
            if let index = candidates.firstIndex(where: { $0.image == release.image }) {
                candidates[index].releases.append(release.release)
            } else {
                candidates.append(Candidate(image: release.image, releases: [release.release]))
            }
        }
        return Selection(keep: keep, kept: kept, candidates: candidates)
    }

    /// The removals, oldest release first, for the candidates that are on the host (`present`: image →
    /// its size in bytes, nil when unknown); a candidate not there gets no step.
    public static func plan(_ selection: Selection, present: [String: Int64?]) -> Plan {
        var steps: [Step] = []
        for candidate in selection.candidates {
            guard let bytes = present[candidate.image] else { continue }
            let size = bytes.map { " (\(ByteCount.text($0)))" } ?? ""
            steps.append(Step("remove-image", "remove \(candidate.image)\(size), the image of \(candidate.releases.joined(separator: ", "))",
                              .removeImage(candidate.image, bytes: bytes)))
        }
        let why = selection.candidates.isEmpty
            ? "no release older than the last \(selection.keep) has an image to remove"
            : "the images of older releases are no longer on this host"
        return Plan(title: "prune (keep \(selection.keep))", steps: steps, nothingToDo: why)
    }
}

/// Bytes as a person reads them: 0 B, 980 KB, 12.3 MB, 1.2 GB (decimal units, as docker prints them).
public enum ByteCount {
    public static func text(_ bytes: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        return (value >= 100 ? "\(Int(value.rounded()))" : String(format: "%.1f", value)) + " " + units[unit]
    }
}

/// What one `docker image rm` did.
public struct ImageRemoval: Sendable, Equatable {
    public enum Result: String, Sendable {
        /// The image is gone from the host.
        case removed
        /// Only this name went: other tags still name the image, nothing was freed.
        case untagged
        /// The engine refused, e.g. a container still uses the image; it stays.
        case refused
        /// It was no longer there.
        case absent
    }

    public var image: String
    public var result: Result
    /// The image's size when it was removed (the space freed, shared layers aside); nil otherwise or unknown.
    public var bytes: Int64?
    /// The engine's reason when it refused (its first line).
    public var detail: String?

    public init(image: String, result: Result, bytes: Int64? = nil, detail: String? = nil) {
        self.image = image
        self.result = result
        self.bytes = bytes
        self.detail = detail
    }

    /// Reads the engine's answer; an engine that cannot be reached is an error, anything else it
    /// refuses is a result (prune reports it and goes on).
    init(image: String, bytes: Int64?, command: DockerCommand, result: CommandResult) throws {
        if result.succeeded {
            let deleted = result.stdout.split(separator: "\n").contains { $0.hasPrefix("Deleted:") }
            self.init(image: image, result: deleted ? .removed : .untagged, bytes: deleted ? bytes : nil)
            return
        }
        if result.failure == .imageUnavailable {
            self.init(image: image, result: .absent)
            return
        }
        let error = OrchestratorError.classify(doing: "removing image \(image)", command: command, result: result)
        if error.isDockerUnavailable || result.timedOut { throw error }
        let firstLine = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").first.map(String.init) ?? "exit status \(result.status)"
        self.init(image: image, result: .refused, detail: firstLine.hasPrefix("Error response from daemon: ")
                  ? String(firstLine.dropFirst("Error response from daemon: ".count)) : firstLine)
    }
}
